// The baseline: a bare fastify route that only parses the same JSON body.
import { fastify } from 'fastify';

const app = fastify({ bodyLimit: 1024 * 1024 });
app.post('/track', async (request) => ({ ok: typeof request.body === 'object' }));
const address = await app.listen({ host: '127.0.0.1', port: Number(process.argv[2] ?? 0) });
process.stdout.write(`${address}\n`);
