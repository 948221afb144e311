// Apache Pulsar standalone from the pulsar-broker jars on Maven Central: broker, bookie and
// RocksDB metadata in one JVM; functions worker and stream storage off; WebSocket service
// and admin REST on the web port. pulsar-testclient (pulsar-perf) is resolved beside it.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { httpJson } from './http.ts';
import { resolveClasspath } from './maven.ts';
import { alive, engineDir, ensureDir, log, portOpen, readPid, rssOfGroup, startDetached, stopGroup, waitUntil, which, type Engine, type Env, type Status } from './lib.ts';

// The Maven Central reachable here lacks a few 4.0.x artifacts: 4.0.7 has a complete broker,
// 4.0.8 the test client (pinned to the 4.0.7 builds of the two modules its release lacks).
const BROKER_VERSION = '4.0.7';
const TESTCLIENT_VERSION = '4.0.8';
const BINARY_PORT = 6650;
const WEB_PORT = 8080;
const HEAP = process.env.SLUICE_PULSAR_HEAP ?? '1g';

const broker = () => resolveClasspath(`pulsar-broker-${BROKER_VERSION}`, [{ groupId: 'org.apache.pulsar', artifactId: 'pulsar-broker', version: BROKER_VERSION }]);
export const pulsarPerfClasspath = () =>
  resolveClasspath(`pulsar-testclient-${TESTCLIENT_VERSION}`, [{ groupId: 'org.apache.pulsar', artifactId: 'pulsar-testclient', version: TESTCLIENT_VERSION }], [
    { groupId: 'org.apache.pulsar', artifactId: 'jetcd-core-shaded', version: BROKER_VERSION },
    { groupId: 'org.apache.pulsar', artifactId: 'pulsar-opentelemetry', version: BROKER_VERSION },
  ]);

const dir = () => engineDir('pulsar');
const pidFile = () => join(dir(), 'pulsar.pid');
const webUrl = `http://127.0.0.1:${String(WEB_PORT)}`;

async function ready(): Promise<boolean> {
  const response = await httpJson(`${webUrl}/admin/v2/namespaces/public`, { timeoutMs: 3000 });
  return response.status === 200 && Array.isArray(response.body) && response.body.includes('public/default');
}

/** The broker's (and its bookie's) settings, as `up` writes them to standalone.conf. */
function standaloneConf(): string {
  return [
    'clusterName=standalone',
    'bindAddress=127.0.0.1',
    'advertisedAddress=127.0.0.1',
    `brokerServicePort=${String(BINARY_PORT)}`,
    `webServicePort=${String(WEB_PORT)}`,
    'webSocketServiceEnabled=true',
    'functionsWorkerEnabled=false',
    'managedLedgerDefaultEnsembleSize=1',
    'managedLedgerDefaultWriteQuorum=1',
    'managedLedgerDefaultAckQuorum=1',
    'allowAutoTopicCreation=true',
    'allowAutoTopicCreationType=non-partitioned',
    'systemTopicEnabled=true',
    'topicLevelPoliciesEnabled=true',
    'brokerDeleteInactiveTopicsEnabled=false',
    // The bookie writes and syncs its journal as soon as no entry waits, rather than waiting
    // up to journalMaxGroupWaitMSec (2 ms) for more: one publish's acknowledgement at low load
    // falls from about 3.3 ms to 1.1 ms. Every entry is still synced before it is acknowledged.
    'journalFlushWhenQueueEmpty=true',
    // Tests drop their namespaces with everything in them.
    'forceDeleteNamespaceAllowed=true',
    'forceDeleteTenantAllowed=true',
    '',
  ].join('\n');
}

export const pulsar: Engine = {
  name: 'pulsar',
  description: `Apache Pulsar ${BROKER_VERSION} standalone, pulsar://127.0.0.1:${String(BINARY_PORT)}, web/WebSocket ${webUrl}`,

  async install() {
    if (!which('java')) throw new Error('Pulsar needs a Java 17+ runtime: apt-get install openjdk-17-jre-headless');
    await broker();
    await pulsarPerfClasspath();
  },

  async up() {
    // A broker running with other settings (an older checkout's) is restarted with these.
    const conf = join(dir(), 'standalone.conf');
    const settings = standaloneConf();
    const same = existsSync(conf) && readFileSync(conf, 'utf8') === settings;
    const running = alive(readPid(pidFile()));
    if (running && same && (await ready().catch(() => false))) return;
    if (running && !same) log('pulsar is running with other settings than these: restarting it');
    await this.install();
    await stopGroup(pidFile());
    if (await portOpen(WEB_PORT)) throw new Error(`port ${String(WEB_PORT)} is taken by a process that is not Sluice's Pulsar; stop it first`);
    const data = ensureDir(join(dir(), 'data'));
    writeFileSync(conf, settings);
    const logFile = join(dir(), 'pulsar.log');
    log(`starting pulsar standalone (heap ${HEAP})`);
    const pid = startDetached('java', [
      `-Xms256m`, `-Xmx${HEAP}`, `-XX:MaxDirectMemorySize=${HEAP}`, '-XX:+UseG1GC', `-Dpulsar.log.dir=${dir()}`,
      '-cp', await broker(), 'org.apache.pulsar.PulsarStandaloneStarter',
      '--config', conf, '--no-functions-worker', '--no-stream-storage',
      '--metadata-dir', join(data, 'metadata'), '--bookkeeper-dir', join(data, 'bookkeeper'),
    ], pidFile(), logFile, { cwd: dir() });
    await waitUntil('pulsar', ready, 180_000, logFile, pid);
  },

  async down() {
    await stopGroup(pidFile(), 30_000);
  },

  async status(): Promise<Status> {
    const pid = readPid(pidFile());
    if (!alive(pid)) return { running: false, detail: 'stopped' };
    const ok = await ready().catch(() => false);
    return { running: ok, detail: ok ? 'answering (admin REST, WebSocket)' : 'process up, not answering', rssBytes: rssOfGroup(pid ?? 0) };
  },

  env(): Env {
    return { PULSAR_HOST: `pulsar://127.0.0.1:${String(BINARY_PORT)}`, PULSAR_WEB_HOST: webUrl, PULSAR_TENANT: 'public', PULSAR_CLUSTER: 'standalone' };
  },
};
