import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { engineEnv } from '@sluice/testkit';
import { BullMqJobs } from '../src/index.ts';
import { runJobsConformance } from '../src/conformance.ts';

const redis = engineEnv('redis');

runJobsConformance('bullmq', async () => {
  const errors: unknown[] = [];
  const prefix = `test-${randomUUID().slice(0, 8)}`;
  const options = { url: redis.REDIS_HOST ?? '', password: redis.REDIS_PASSWORD ?? '', prefix, closeGraceMs: 3000 };
  const replicas: BullMqJobs[] = [];
  return {
    jobs: new BullMqJobs(options, (_job, error) => errors.push(error)),
    errors,
    replica: () => {
      const replica = new BullMqJobs(options, () => undefined);
      replicas.push(replica);
      return replica;
    },
    cleanup: async () => {
      await Promise.all(replicas.map((replica) => replica.close()));
      const client = new Redis(options.url, { password: options.password });
      const keys = await client.keys(`${prefix}:*`);
      if (keys.length > 0) await client.del(...keys);
      client.disconnect();
    },
  };
});
