// The framework's floor for `npm run bench` (scenario 9): a bare Express 5 app doing the same shape of work as
// the API's hot paths and nothing else: the same body parsers, a Basic-auth string compare, a 500-byte JSON
// answer for a read, a small one for a check-in. No Redis, no logging, no metrics.
import express from 'express';

const password = process.env.SD_PASSWORD ?? 'pw';
const expected = `Basic ${Buffer.from(`admin:${password}`).toString('base64')}`;
const body = {
  container_id: 'a'.repeat(64),
  name: '/bench_0',
  image: 'spin-docker/demo',
  status: 'running',
  active: '0',
  ssh_port: '20001',
  app_port: '20002',
  uri: `/v1/containers/${'a'.repeat(64)}`,
  ports: { '22/tcp': '20001', '80/tcp': '20002' },
  created_at: '2026-12-01T00:00:00.000Z',
  last_check_in: null,
  next_check_at: '2026-12-01T02:00:00.000Z',
  connections: '',
};

const app = express();
app.disable('x-powered-by');
app.disable('etag');
app.set('query parser', 'simple');
app.use(express.json({ limit: '64kb' }));
app.use(express.urlencoded({ limit: '64kb', extended: false, parameterLimit: 100 }));
app.get('/v1/containers/:id', (req, res) => {
  if (req.headers.authorization !== expected) return res.status(401).json({ message: 'Wrong or missing credentials', code: 'unauthorized' });
  res.json(body);
});
app.post('/v1/check-in', (req, res) => {
  res.json({ message: 'Checked in', active: String(req.body.active ?? '0') });
});
const server = app.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => process.stdout.write(`listening ${server.address().port}\n`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
