import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Where `makeEngineCertificates` put what: the engine's side, and a client's folder for DOCKER_CERT_PATH. */
export interface EngineCertificates {
  /** ca.pem, cert.pem, key.pem for `dockerd --tlsverify --tlscacert … --tlscert … --tlskey …`. */
  readonly engine: string;
  /** ca.pem, cert.pem, key.pem: a DOCKER_CERT_PATH. */
  readonly client: string;
}

/**
 * One certificate authority (made by openssl, valid a day) and the two certificates it signs, as Docker's "protect
 * the daemon socket" guide makes them: the engine's, for the given addresses, and a client's.
 */
export function makeEngineCertificates(dir: string, addresses: readonly string[]): EngineCertificates {
  const engine = join(dir, 'engine');
  const client = join(dir, 'client');
  mkdirSync(engine, { recursive: true });
  mkdirSync(client, { recursive: true });
  selfSigned(engine, 'spin-docker test CA');
  sign(engine, engine, addresses[0] ?? 'engine', `subjectAltName=${addresses.map((a) => `IP:${a}`).join(',')}\nextendedKeyUsage=serverAuth\n`);
  sign(client, engine, 'spin-docker', 'extendedKeyUsage=clientAuth\n');
  copyFileSync(join(engine, 'ca.pem'), join(client, 'ca.pem'));
  return { engine, client };
}

/** A certificate authority of its own in `folder` (ca.pem, ca-key.pem). */
export function selfSigned(folder: string, name: string): void {
  mkdirSync(folder, { recursive: true });
  ssl(folder, 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', `/CN=${name}`, '-keyout', 'ca-key.pem', '-out', 'ca.pem');
}

/** cert.pem and key.pem in `folder` for `name`, signed by the authority in `authority`, with the given extensions. */
export function sign(folder: string, authority: string, name: string, extensions: string): void {
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, 'ext.cnf'), extensions);
  ssl(folder, 'req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`, '-keyout', 'key.pem', '-out', 'req.pem');
  const ca = join(authority, 'ca.pem');
  const caKey = join(authority, 'ca-key.pem');
  ssl(folder, 'x509', '-req', '-in', 'req.pem', '-CA', ca, '-CAkey', caKey, '-CAcreateserial', '-days', '1', '-out', 'cert.pem', '-extfile', 'ext.cnf');
}

function ssl(cwd: string, ...args: string[]): void {
  execFileSync('openssl', args, { cwd, stdio: 'pipe' });
}
