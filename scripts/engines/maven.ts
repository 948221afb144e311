// Maven from Maven Central, used to resolve Java classpaths (Pulsar). Maven 3.9's
// breadth-first collector resolves POMs in parallel: about 10 s for the Pulsar broker
// where Debian's Maven 3.8 takes many minutes.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CACHE_DIR, MAVEN_CENTRAL, downloadVerified, ensureDir, log, run, runAsync } from './lib.ts';

const MAVEN_VERSION = '3.9.16';

async function mavenBin(): Promise<string> {
  const home = join(CACHE_DIR, `apache-maven-${MAVEN_VERSION}`);
  const bin = join(home, 'bin', 'mvn');
  if (existsSync(bin)) return bin;
  const url = `${MAVEN_CENTRAL}/org/apache/maven/apache-maven/${MAVEN_VERSION}/apache-maven-${MAVEN_VERSION}-bin.tar.gz`;
  const archive = await downloadVerified(url, join(CACHE_DIR, 'downloads', `apache-maven-${MAVEN_VERSION}-bin.tar.gz`));
  run('tar', ['xzf', archive, '-C', CACHE_DIR]);
  return bin;
}

export interface Coordinates {
  readonly groupId: string;
  readonly artifactId: string;
  readonly version: string;
}

const xml = (c: Coordinates) => `<dependency><groupId>${c.groupId}</groupId><artifactId>${c.artifactId}</artifactId><version>${c.version}</version></dependency>`;

/**
 * Resolves `dependencies` (with `pins` forcing versions of transitive artifacts) from Maven
 * Central only, checksums enforced, and returns the classpath. Cached under `name`.
 */
export async function resolveClasspath(name: string, dependencies: readonly Coordinates[], pins: readonly Coordinates[] = []): Promise<string> {
  const dir = ensureDir(join(CACHE_DIR, 'classpaths', name));
  const output = join(dir, 'classpath.txt');
  const pom = `<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
  <groupId>dev.sluice.engines</groupId><artifactId>${name}</artifactId><version>1</version><packaging>pom</packaging>
  <dependencyManagement><dependencies>${pins.map(xml).join('')}</dependencies></dependencyManagement>
  <dependencies>${dependencies.map(xml).join('')}</dependencies></project>\n`;
  const pomFile = join(dir, 'pom.xml');
  if (existsSync(output) && existsSync(pomFile) && readFileSync(pomFile, 'utf8') === pom) {
    return readFileSync(output, 'utf8').trim();
  }
  writeFileSync(pomFile, pom);
  // Every repository a POM declares is redirected to Maven Central: the only one reachable.
  const settings = join(dir, 'settings.xml');
  writeFileSync(settings, `<settings><mirrors><mirror><id>central-only</id><mirrorOf>*</mirrorOf><url>${MAVEN_CENTRAL}</url></mirror></mirrors></settings>\n`);
  log(`resolving ${name} from Maven Central`);
  await runAsync(await mavenBin(), [
    '-q', '-B', '-C', '-f', pomFile, '-s', settings, `-Dmaven.repo.local=${join(CACHE_DIR, 'm2')}`,
    '-Daether.dependencyCollector.impl=bf', '-Daether.dependencyCollector.bf.threads=16', '-Dmaven.artifact.threads=16',
    'dependency:build-classpath', `-Dmdep.outputFile=${output}`,
  ]);
  return readFileSync(output, 'utf8').trim();
}
