import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** A certificate authority made for one test run, and a server certificate for 127.0.0.1 it signed. */
export interface TestCertificates {
  /** PEM of the CA: what a client trusts. */
  readonly ca: string;
  /** PEM of the server certificate and its private key. */
  readonly cert: string;
  readonly key: string;
  /** Base64 SHA-256 of the server certificate's public key, for Chromium's --ignore-certificate-errors-spki-list. */
  readonly spkiSha256: string;
  /** A file holding the CA, for NODE_EXTRA_CA_CERTS. */
  readonly caFile: string;
  dispose(): void;
}

function openssl(cwd: string, args: string[]): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Made with the openssl CLI: Node has no API that issues certificates. Valid for two days. */
export function createTestCertificates(): TestCertificates {
  const dir = mkdtempSync(path.join(tmpdir(), 'eucora-test-ca-'));
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  openssl(dir, [
    'req',
    '-x509',
    ...ec,
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '2',
    '-subj',
    '/CN=EUCORA test CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  openssl(dir, ['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1']);
  writeFileSync(
    path.join(dir, 'server.ext'),
    [
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      'basicConstraints=CA:FALSE',
      'keyUsage=critical,digitalSignature',
      'extendedKeyUsage=serverAuth',
    ].join('\n'),
  );
  openssl(dir, [
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.pem',
    '-days',
    '2',
    '-extfile',
    'server.ext',
  ]);
  const cert = readFileSync(path.join(dir, 'server.pem'), 'utf8');
  const spki = new X509Certificate(cert).publicKey.export({ type: 'spki', format: 'der' });
  return {
    ca: readFileSync(path.join(dir, 'ca.pem'), 'utf8'),
    cert,
    key: readFileSync(path.join(dir, 'server.key'), 'utf8'),
    spkiSha256: createHash('sha256').update(spki).digest('base64'),
    caFile: path.join(dir, 'ca.pem'),
    dispose: () => {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
