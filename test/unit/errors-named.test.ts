import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { exitCodeFor } from '../../shared/errors';
import { mapError, mapErrorAt } from '../../electron/engine/errors';
import { parseAwsConfig, resolveS3Endpoint, s3ClientConfig } from '../../electron/engine/storage/s3-client';

/** A system error as Node raises it (fs.promises). */
function sysError(code: string, syscall: string, path?: string, what = 'oops'): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: ${what}, ${syscall}${path ? ` '${path}'` : ''}`), {
    code,
    syscall,
    errno: -1,
    ...(path ? { path } : {}),
  });
}

describe('system errors are named, with the path', () => {
  it('ENOTDIR and EISDIR are usage errors (exit 2)', () => {
    const e = mapError(sysError('ENOTDIR', 'open', '/backups/file.tar/lifeboat-medium.json', 'not a directory'));
    expect(e.code).toBe('BAD_INPUT');
    expect(exitCodeFor(e.code)).toBe(2);
    expect(e.message).toContain('/backups/file.tar/lifeboat-medium.json');
    expect(mapError(sysError('EISDIR', 'open', '/x')).code).toBe('BAD_INPUT');
  });

  it('ENAMETOOLONG names the path, shortened in the middle when huge', () => {
    const long = `/restore/${'d'.repeat(5000)}/end-of-it`;
    const e = mapError(sysError('ENAMETOOLONG', 'open', long, 'name too long'));
    expect(e.code).toBe('STORAGE_ERROR');
    expect(e.message).toMatch(/too long/);
    expect(e.message).toContain('/restore/ddd');
    expect(e.message).toContain('end-of-it');
    expect(e.message.length).toBeLessThan(400);
    expect(e.hint).toMatch(/255/);
  });

  it('any other failed call on a path says which call, what the OS said and where', () => {
    const e = mapError(sysError('EXDEV', 'rename', '/a/b', 'cross-device link not permitted'));
    expect(e.code).toBe('STORAGE_ERROR');
    expect(e.message).toBe('The file system refused rename: cross-device link not permitted (EXDEV) (/a/b).');
  });

  it('a write with no path of its own gets the file it was writing (which of several media is full)', () => {
    const e = mapErrorAt(sysError('ENOSPC', 'write'), '/media/usb-2/sets/shop/x/files.tar.zst');
    expect(e.code).toBe('STORAGE_FULL');
    expect(e.message).toContain('/media/usb-2/');
    // An error that has a path keeps it.
    expect(mapErrorAt(sysError('ENOSPC', 'open', '/media/usb-1/a'), '/elsewhere').message).toContain('/media/usb-1/a');
  });

  it('no S3 credentials is CREDENTIAL_UNAVAILABLE (exit 2); a YAML alias bomb is RUNBOOK_INVALID', () => {
    const creds = mapError(
      Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' }),
    );
    expect(creds.code).toBe('CREDENTIAL_UNAVAILABLE');
    expect(exitCodeFor(creds.code)).toBe(2);
    // The hint names where the app keeps S3 keys (Credentials) and where a medium takes them (Edit on Media).
    expect(creds.hint).toContain('add the S3 keys on Credentials');
    expect(creds.hint).toContain('Edit on the medium (Media)');
    expect(creds.hint).not.toContain('Settings');
    const bomb = mapError(new ReferenceError('Excessive alias count indicates a resource exhaustion attack'));
    expect(bomb.code).toBe('RUNBOOK_INVALID');
  });
});

describe('one S3 client configuration for every endpoint source', () => {
  const noAws: NodeJS.ProcessEnv = { HOME: '/nonexistent', AWS_CONFIG_FILE: '/nonexistent/config' };
  const { requestHandler: _a, ...fromEnv } = s3ClientConfig(
    {},
    { ...noAws, AWS_ENDPOINT_URL: 'http://minio.internal:9000' },
  );

  it('an endpoint from the environment: path-style, checksums only when required', () => {
    expect(fromEnv).toMatchObject({
      endpoint: 'http://minio.internal:9000',
      forcePathStyle: true,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  });

  it('the same endpoint from a profile (endpoint_url, or a services section) gets exactly the same settings', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lifeboat-aws-'));
    try {
      const config = join(dir, 'config');
      writeFileSync(
        config,
        [
          '[default]',
          'region = us-east-1',
          '',
          '[profile rescue]',
          'endpoint_url = http://minio.internal:9000',
          '',
          '[profile svc]',
          'services = local',
          '[services local]',
          's3 =',
          '  endpoint_url = http://minio.internal:9000',
          '',
        ].join('\n'),
      );
      for (const profile of ['rescue', 'svc']) {
        const { requestHandler: _b, ...fromProfile } = s3ClientConfig(
          {},
          { ...noAws, AWS_CONFIG_FILE: config, AWS_PROFILE: profile },
        );
        expect(fromProfile).toEqual(fromEnv);
      }
      // The medium's own endpoint wins; AWS_IGNORE_CONFIGURED_ENDPOINT_URLS turns the configured ones off, as in the SDK.
      expect(
        resolveS3Endpoint({ endpoint: 'http://other:1' }, { ...noAws, AWS_CONFIG_FILE: config, AWS_PROFILE: 'rescue' }),
      ).toBe('http://other:1');
      expect(
        resolveS3Endpoint(
          {},
          { ...noAws, AWS_CONFIG_FILE: config, AWS_PROFILE: 'rescue', AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: 'true' },
        ),
      ).toBeUndefined();
      // AWS itself: no custom settings.
      expect(s3ClientConfig({}, { ...noAws, AWS_CONFIG_FILE: config }).endpoint).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads the shared config format: sections, comments, sub-keys', () => {
    const s = parseAwsConfig(
      '# c\n[profile a]\nregion=eu-west-1 \n; c\ns3 =\n  addressing_style = path\n[ services  x ]\ns3 =\n  endpoint_url = http://h:1\n',
    );
    expect(s.get('profile a')?.get('region')).toBe('eu-west-1');
    expect(s.get('profile a')?.get('s3.addressing_style')).toBe('path');
    expect(s.get('services x')?.get('s3.endpoint_url')).toBe('http://h:1');
  });
});
