'use strict';
/**
 * Stand-in for `@napi-rs/keyring` inside the single executable (SEA). The
 * build (scripts/build-sea.mjs) embeds the platform's native binding as the
 * SEA asset "keyring"; here it is written once to a private per-user
 * directory, under a name derived from its content hash, and loaded with
 * process.dlopen. Exports what the package exports (AsyncEntry, Entry, ...).
 */
const { createHash, randomBytes } = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const sea = require('node:sea');

function fail(message) {
  throw new Error(`agentprov executable: ${message}`);
}

/** A directory only this user can use: created 0700, or checked to be so. */
function privateDir() {
  const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
  const dir = path.join(os.tmpdir(), `agentprov-native-${uid ?? os.userInfo().username}`);
  try {
    fs.mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    if (err.code !== 'EEXIST') throw err;
  }
  const st = fs.lstatSync(dir);
  if (!st.isDirectory()) fail(`${dir} is not a directory`);
  if (uid !== undefined && (st.uid !== uid || (st.mode & 0o077) !== 0)) {
    fail(`${dir} must be owned by uid ${uid} with mode 0700; remove it and retry`);
  }
  return dir;
}

function extract() {
  if (!sea.isSea()) fail('the keychain shim only works inside the single executable');
  const bytes = Buffer.from(sea.getAsset('keyring'));
  const hash = createHash('sha256').update(bytes).digest('hex').slice(0, 32);
  const file = path.join(privateDir(), `keyring-${hash}.node`);
  let present = false;
  try {
    present = fs.statSync(file).size === bytes.length;
  } catch {
    // not extracted yet
  }
  if (!present) {
    // Write under a unique name, then rename: concurrent runs never see half a file.
    const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}`;
    fs.writeFileSync(tmp, bytes, { mode: 0o700, flag: 'wx' });
    fs.renameSync(tmp, file);
  }
  return file;
}

const file = extract();
const binding = { exports: {} };
process.dlopen(binding, file, os.constants.dlopen.RTLD_NOW);
module.exports = binding.exports;
