// watchFiles on a real filesystem: the ways files are replaced in production (a Kubernetes
// `..data` symlink flip, a rename over the file, a symlink into another directory, a file that
// goes away and comes back) each reach onChange with the files whose content changed.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { mkdir, mkdtemp, readdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { watchFiles } from '../../src/files/watch.js';
import { createSecretVolume, updateSecretVolume } from '../helpers/secret-volume.js';
import { whenever } from '../helpers/wait.js';

/** Short enough to keep the tests quick, long enough for one update's renames to land together. */
const DEBOUNCE_MS = 100;

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'certbound-watch-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Watch `files`; every onChange is recorded, and `until(n)` waits for the n-th. */
async function record(t: TestContext, files: string[]) {
  const changes: string[][] = [];
  const emitter = new EventEmitter();
  const watch = await watchFiles(
    files,
    (changed) => {
      changes.push(changed);
      emitter.emit('change');
    },
    { debounceMs: DEBOUNCE_MS },
  );
  t.after(() => watch.close());
  const until = (count: number, what: string): Promise<void> =>
    whenever(emitter, 'change', () => changes.length >= count, what, { context: () => JSON.stringify(changes) });
  return { changes, until };
}

describe('watchFiles', () => {
  test('a Kubernetes secret update (..data flip) changes both files; the next flip, after the old directory is gone, is seen too', async (t) => {
    const dir = await tempDir(t);
    const [cert, key] = [join(dir, 'tls.crt'), join(dir, 'tls.key')];
    await createSecretVolume(dir, { 'tls.crt': 'cert 1', 'tls.key': 'key 1' });
    const { changes, until } = await record(t, [cert, key]);

    await updateSecretVolume(dir, { 'tls.crt': 'cert 2', 'tls.key': 'key 2' });
    await until(1, 'the first flip');
    // One rename flips both; a comparison racing it could see them one at a time.
    if (changes.length === 1) assert.deepEqual(changes[0], [cert, key]);
    else await until(2, 'the rest of the first flip');
    assert.deepEqual(new Set(changes.flat()), new Set([cert, key]));

    const seen = changes.length;
    assert.equal((await readdir(dir)).filter((name) => /^\.\.\d/.test(name)).length, 1, 'the old payload directory is gone');
    await updateSecretVolume(dir, { 'tls.crt': 'cert 3', 'tls.key': 'key 2' });
    await until(seen + 1, 'the second flip');
    assert.deepEqual(changes[seen], [cert], 'only the file whose content changed');
  });

  test('a rename over the file, a removal and a return are changes; another file in the directory is not', async (t) => {
    const dir = await tempDir(t);
    const crl = join(dir, 'ca.crl');
    await writeFile(crl, 'crl 1');
    const { changes, until } = await record(t, [crl]);

    await writeFile(join(dir, 'unrelated'), 'noise');
    await writeFile(`${crl}.tmp`, 'crl 2');
    await rename(`${crl}.tmp`, crl);
    await until(1, 'the rename');
    assert.deepEqual(changes, [[crl]]);

    await rm(crl);
    await until(2, 'the removal');
    await writeFile(crl, 'crl 3');
    await until(3, 'the return');
    assert.deepEqual(changes, [[crl], [crl], [crl]]);
  });

  test('a symlink into another directory: a rename over its target there is seen', async (t) => {
    const dir = await tempDir(t);
    await mkdir(join(dir, 'etc'));
    await mkdir(join(dir, 'store'));
    const target = join(dir, 'store', 'jwks.json');
    const link = join(dir, 'etc', 'jwks.json');
    await writeFile(target, '{"keys":[1]}');
    await symlink(join('..', 'store', 'jwks.json'), link);
    const { changes, until } = await record(t, [link]);

    await writeFile(`${target}.new`, '{"keys":[1,2]}');
    await rename(`${target}.new`, target);
    await until(1, 'the rename in the symlink target directory');
    assert.deepEqual(changes, [[link]]);
  });
});
