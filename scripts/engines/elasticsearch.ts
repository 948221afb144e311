// Elasticsearch from Maven Central's integ-test-zip distribution (no bundled JDK; 8.x runs
// on Java 17). Two shapes: a single secured node (basic auth + TLS on HTTP, certificates
// from openssl) and a 3-node tiered cluster (hot, warm, cold; all master-eligible; content
// indices on hot and warm, so that a 1-replica content index is green).
import { chmodSync, chownSync, cpSync, existsSync, readFileSync, readdirSync, realpathSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { httpJson } from './http.ts';
import {
  CACHE_DIR, MAVEN_CENTRAL, REPO_ROOT, alive, runAsync, downloadVerified, engineUserDir, ensureDir, ensureEngineUser, log, portOpen, readPid, rssOfGroup, run,
  startDetached, stopGroup, waitUntil, which, type Engine, type Env, type Status,
} from './lib.ts';

export const ES_VERSION = process.env.SLUICE_ES_VERSION ?? '8.19.21';
const HEAP = process.env.SLUICE_ES_HEAP ?? '512m';
const USERNAME = 'sluice';
const PASSWORD = 'sluice-engines-password';
/**
 * One user per Sluice role (deploy/elasticsearch/roles.yml), all with PASSWORD, and the env
 * variable the engine env names each in (tests run each Sluice process as its user); and
 * the all-in-one `sluice start`'s, which is init, jobs, worker and API at once.
 */
const ROLE_USERS: readonly { readonly user: string; readonly roles: readonly string[]; readonly env: string }[] = [
  { user: 'sluice-init', roles: ['sluice_init'], env: 'SLUICE_INIT_USERNAME' },
  { user: 'sluice-maintainer', roles: ['sluice_maintainer'], env: 'SLUICE_MAINTAINER_USERNAME' },
  { user: 'sluice-writer', roles: ['sluice_writer'], env: 'SLUICE_WRITER_USERNAME' },
  { user: 'sluice-reader', roles: ['sluice_reader'], env: 'SLUICE_READER_USERNAME' },
  { user: 'sluice-all-in-one', roles: ['sluice_init', 'sluice_maintainer', 'sluice_writer', 'sluice_reader'], env: 'SLUICE_ALL_IN_ONE_USERNAME' },
];
const ROLES_FILE = join(REPO_ROOT, 'deploy', 'elasticsearch', 'roles.yml');
/** Marks where Sluice's roles start in the node's roles.yml (the built-in examples come before). */
const ROLES_MARK = '# --- sluice ---';

interface NodeSpec {
  readonly name: string;
  readonly httpPort: number;
  readonly transportPort: number;
  readonly roles: readonly string[];
}

interface Shape {
  readonly name: string;
  readonly clusterName: string;
  readonly secured: boolean;
  readonly nodes: readonly NodeSpec[];
}

const SINGLE: Shape = {
  name: 'elasticsearch',
  clusterName: 'sluice-single',
  secured: true,
  nodes: [{ name: 'single', httpPort: 9200, transportPort: 9300, roles: [] }],
};

const CLUSTER: Shape = {
  name: 'elasticsearch-cluster',
  clusterName: 'sluice-tiered',
  secured: false,
  nodes: [
    { name: 'hot', httpPort: 9201, transportPort: 9301, roles: ['master', 'data_hot', 'data_content'] },
    { name: 'warm', httpPort: 9202, transportPort: 9302, roles: ['master', 'data_warm', 'data_content'] },
    { name: 'cold', httpPort: 9203, transportPort: 9303, roles: ['master', 'data_cold'] },
  ],
};

function home(): string {
  return join(CACHE_DIR, `elasticsearch-${ES_VERSION}`);
}

function javaHome(): string {
  if (process.env.ES_JAVA_HOME) return process.env.ES_JAVA_HOME;
  const java = which('java');
  if (!java) throw new Error('Elasticsearch needs a Java 17+ runtime: install openjdk-17-jre-headless (Debian) or set ES_JAVA_HOME');
  return join(realpathSync(java), '..', '..');
}

let installing: Promise<void> | undefined;

/** Both shapes share one distribution; concurrent `up`s install it once. */
function installDistribution(): Promise<void> {
  installing ??= installDistributionNow();
  return installing;
}

async function installDistributionNow(): Promise<void> {
  if (existsSync(join(home(), 'bin', 'elasticsearch'))) return;
  const url = `${MAVEN_CENTRAL}/org/elasticsearch/distribution/integ-test-zip/elasticsearch/${ES_VERSION}/elasticsearch-${ES_VERSION}.zip`;
  const zip = await downloadVerified(url, join(CACHE_DIR, 'downloads', `elasticsearch-${ES_VERSION}.zip`));
  if (!which('unzip')) throw new Error('unzip is missing: apt-get install unzip');
  const staging = `${home()}.staging`;
  rmSync(staging, { recursive: true, force: true });
  await runAsync('unzip', ['-q', zip, '-d', staging]);
  cpSync(join(staging, `elasticsearch-${ES_VERSION}`), home(), { recursive: true });
  rmSync(staging, { recursive: true, force: true });
  run('chmod', ['-R', 'a+rX', home()]);
}

function chownTree(path: string, uid: number, gid: number): void {
  chownSync(path, uid, gid);
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    const child = join(path, entry.name);
    if (entry.isDirectory()) chownTree(child, uid, gid);
    else chownSync(child, uid, gid);
  }
}

function certificates(dir: string): void {
  if (existsSync(join(dir, 'node.crt'))) return;
  if (!which('openssl')) throw new Error('openssl is missing: apt-get install openssl');
  ensureDir(dir);
  const at = (file: string) => join(dir, file);
  run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '3650', '-subj', '/CN=Sluice engines test CA', '-keyout', at('ca.key'), '-out', at('ca.crt')]);
  writeFileSync(at('node.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n');
  run('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-keyout', at('node.key'), '-out', at('node.csr')]);
  run('openssl', ['x509', '-req', '-in', at('node.csr'), '-CA', at('ca.crt'), '-CAkey', at('ca.key'), '-CAcreateserial', '-days', '3650', '-extfile', at('node.ext'), '-out', at('node.crt')]);
  chmodSync(at('ca.crt'), 0o644);
}

class ElasticsearchEngine implements Engine {
  readonly name: string;
  readonly description: string;
  private readonly shape: Shape;

  constructor(shape: Shape) {
    this.shape = shape;
    this.name = shape.name;
    this.description = shape.secured
      ? `Elasticsearch ${ES_VERSION}, one node, security on (basic auth, TLS), https://127.0.0.1:${String(shape.nodes[0]?.httpPort)}`
      : `Elasticsearch ${ES_VERSION}, 3 nodes (hot, warm, cold tiers), http://127.0.0.1:9201-9203`;
  }

  private dir(): string {
    return engineUserDir(this.shape.name);
  }

  private nodeDir(node: NodeSpec): string {
    return join(this.dir(), node.name);
  }

  private caFile(): string {
    return join(this.dir(), 'certs', 'ca.crt');
  }

  private url(node: NodeSpec): string {
    return `${this.shape.secured ? 'https' : 'http'}://127.0.0.1:${String(node.httpPort)}`;
  }

  async install(): Promise<void> {
    await installDistribution();
    javaHome();
  }

  private configure(node: NodeSpec, uid: number, gid: number): string {
    const dir = this.nodeDir(node);
    const config = join(dir, 'config');
    if (!existsSync(join(config, 'jvm.options'))) cpSync(join(home(), 'config'), config, { recursive: true });
    ensureDir(join(dir, 'data'));
    ensureDir(join(dir, 'logs'));
    // Snapshot repositories (`fs`) live here; the nodes run as the engine user and write them.
    const snapshots = ensureDir(join(this.dir(), 'snapshots'));
    chownSync(snapshots, uid, gid);
    const lines = [
      `cluster.name: ${this.shape.clusterName}`,
      `node.name: ${node.name}`,
      `path.data: ${join(dir, 'data')}`,
      `path.logs: ${join(dir, 'logs')}`,
      `path.repo: ["${snapshots}"]`,
      'network.host: 127.0.0.1',
      `http.port: ${String(node.httpPort)}`,
      `transport.port: ${String(node.transportPort)}`,
      // Test machines have little free disk at times; watermarks would block allocation.
      'cluster.routing.allocation.disk.threshold_enabled: false',
    ];
    if (this.shape.nodes.length === 1) lines.push('discovery.type: single-node');
    else {
      lines.push(`node.roles: [${node.roles.join(', ')}]`);
      lines.push(`discovery.seed_hosts: [${this.shape.nodes.map((n) => `"127.0.0.1:${String(n.transportPort)}"`).join(', ')}]`);
      lines.push(`cluster.initial_master_nodes: [${this.shape.nodes.map((n) => n.name).join(', ')}]`);
    }
    if (this.shape.secured) {
      const certs = join(this.dir(), 'certs');
      certificates(certs);
      cpSync(certs, join(config, 'certs'), { recursive: true });
      lines.push(
        'xpack.security.enabled: true',
        'xpack.security.enrollment.enabled: false',
        'xpack.security.http.ssl.enabled: true',
        'xpack.security.http.ssl.key: certs/node.key',
        'xpack.security.http.ssl.certificate: certs/node.crt',
        'xpack.security.http.ssl.certificate_authorities: [certs/ca.crt]',
      );
    } else lines.push('xpack.security.enabled: false');
    writeFileSync(join(config, 'elasticsearch.yml'), `${lines.join('\n')}\n`);
    writeFileSync(join(config, 'jvm.options.d', 'heap.options'), `-Xms${HEAP}\n-Xmx${HEAP}\n`);
    chownTree(dir, uid, gid);
    if (this.shape.secured) this.installRealm(config, uid, gid);
    return config;
  }

  /**
   * Sluice's roles next to the built-in ones, and a user per role plus the superuser (file
   * realm: the minimal distribution cannot create the .security index the native realm and
   * API keys need). Safe on a running node: the node watches these files and reloads them
   * within about 5 s (resource.reload.interval.high), no restart; roles.yml is replaced by a
   * rename, so the node never reads it half-written (other tests' users keep working).
   */
  private installRealm(config: string, uid: number, gid: number): void {
    const roles = join(config, 'roles.yml');
    const builtIn = readFileSync(roles, 'utf8').split(ROLES_MARK)[0] ?? '';
    const next = `${builtIn.trimEnd()}\n${ROLES_MARK}\n${readFileSync(ROLES_FILE, 'utf8')}`;
    if (next !== readFileSync(roles, 'utf8')) {
      const staged = `${roles}.sluice-new`;
      writeFileSync(staged, next);
      chownSync(staged, uid, gid);
      renameSync(staged, roles);
    }
    const users = readFileSync(join(config, 'users'), 'utf8');
    const tool = join(home(), 'bin', 'elasticsearch-users');
    const toolOptions = { env: { ...process.env, ES_PATH_CONF: config, ES_JAVA_HOME: javaHome() }, uid, gid };
    const has = (user: string) => users.split('\n').some((line) => line.startsWith(`${user}:`));
    if (!has(USERNAME)) run(tool, ['useradd', USERNAME, '-p', PASSWORD, '-r', 'superuser'], toolOptions);
    for (const { user, roles: granted } of ROLE_USERS) if (!has(user)) run(tool, ['useradd', user, '-p', PASSWORD, '-r', granted.join(',')], toolOptions);
  }

  /** True once every role user authenticates with the roles it should have (the node has reloaded the realm). */
  private async realmLoaded(node: NodeSpec): Promise<boolean> {
    for (const { user, roles } of ROLE_USERS) {
      const response = await httpJson(`${this.url(node)}/_security/_authenticate`, { username: user, password: PASSWORD, ca: readFileSync(this.caFile()), timeoutMs: 3000 }).catch(() => undefined);
      const has = (response?.body as { roles?: string[] } | undefined)?.roles ?? [];
      if (response?.status !== 200 || !roles.every((role) => has.includes(role))) return false;
    }
    return true;
  }

  private async health(node: NodeSpec): Promise<{ status?: string; number_of_nodes?: number } | undefined> {
    const auth = this.shape.secured ? { username: USERNAME, password: PASSWORD, ca: readFileSync(this.caFile()) } : {};
    const response = await httpJson(`${this.url(node)}/_cluster/health`, { ...auth, timeoutMs: 3000 });
    return response.status === 200 ? (response.body as { status?: string; number_of_nodes?: number }) : undefined;
  }

  private async ready(): Promise<boolean> {
    const first = this.shape.nodes[0];
    if (!first) return false;
    const health = await this.health(first);
    return health !== undefined && health.number_of_nodes === this.shape.nodes.length && health.status !== 'red';
  }

  async up(): Promise<void> {
    await this.install();
    const { uid, gid } = ensureEngineUser();
    ensureDir(this.dir());
    chownSync(this.dir(), uid, gid);
    const started: { pid: number; log: string }[] = [];
    for (const node of this.shape.nodes) {
      const pidFile = join(this.dir(), `${node.name}.pid`);
      const logFile = join(this.nodeDir(node), 'stdout.log');
      if (alive(readPid(pidFile))) {
        // Running already: bring its roles and users up to date (the node reloads them).
        if (this.shape.secured) this.installRealm(join(this.nodeDir(node), 'config'), uid, gid);
        continue;
      }
      if (await portOpen(node.httpPort)) throw new Error(`port ${String(node.httpPort)} is taken by a process that is not ${this.name}'s; stop it first`);
      const config = this.configure(node, uid, gid);
      log(`starting ${this.name} node ${node.name} (heap ${HEAP})`);
      const pid = startDetached(join(home(), 'bin', 'elasticsearch'), [], pidFile, logFile, {
        uid, gid, cwd: this.nodeDir(node),
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ES_PATH_CONF: config, ES_JAVA_HOME: javaHome(), ES_TMPDIR: ensureDir(join(this.nodeDir(node), 'tmp')) },
      });
      started.push({ pid, log: logFile });
    }
    const watched = started[0];
    await waitUntil(`${this.name}`, () => this.ready(), 180_000, watched?.log, watched?.pid);
    const first = this.shape.nodes[0];
    if (this.shape.secured && first) await waitUntil(`${this.name}'s Sluice users`, () => this.realmLoaded(first), 60_000, watched?.log, watched?.pid);
  }

  async down(): Promise<void> {
    await Promise.all(this.shape.nodes.map((node) => stopGroup(join(this.dir(), `${node.name}.pid`))));
  }

  async status(): Promise<Status> {
    const pids = this.shape.nodes.map((node) => readPid(join(this.dir(), `${node.name}.pid`)));
    const running = pids.filter((pid): pid is number => alive(pid));
    if (running.length === 0) return { running: false, detail: 'stopped' };
    const rssBytes = running.reduce((sum: number, pid) => sum + rssOfGroup(pid), 0);
    const first = this.shape.nodes[0];
    const health = first ? await this.health(first).catch(() => undefined) : undefined;
    const detail = health ? `${health.status ?? '?'}, ${String(health.number_of_nodes ?? 0)}/${String(this.shape.nodes.length)} nodes` : `${String(running.length)}/${String(this.shape.nodes.length)} processes, not answering`;
    return { running: health !== undefined, detail, rssBytes };
  }

  env(): Env {
    const env: Env = { ELASTIC_HOST: this.shape.nodes.map((node) => this.url(node)).join(',') };
    if (this.shape.secured) {
      env.ELASTIC_HTTP_AUTH_USERNAME = USERNAME;
      env.ELASTIC_HTTP_AUTH_PASSWORD = PASSWORD;
      // The same node as each least-privilege user (deploy/elasticsearch/roles.yml), same password.
      for (const { user, env: name } of ROLE_USERS) env[name] = user;
      env.ELASTIC_CA_FILE = this.caFile();
      env.ELASTIC_VERIFY_CERTS = 'yes';
    }
    env.ELASTIC_SNAPSHOT_PATH = join(this.dir(), 'snapshots');
    return env;
  }
}

export const elasticsearch: Engine = new ElasticsearchEngine(SINGLE);
export const elasticsearchCluster: Engine = new ElasticsearchEngine(CLUSTER);
