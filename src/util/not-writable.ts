/**
 * A file-system refusal to write (read-only mount, permissions, a full or
 * over-quota disk, a file where a directory should be) said as what it is:
 * STATE_NOT_WRITABLE naming the path and the errno, with what to do about
 * it. Anything else is not this function's business (undefined).
 *
 * Used where a write of agentprov's own files can fail: taking a file lock
 * (util/file-lock.ts) and the one place that turns an unexpected error into
 * INTERNAL (cli/main.ts), which every other write (journal, vault,
 * manifest, ledger, audit log) reaches unchanged.
 */
import { dirname, relative, isAbsolute } from 'node:path';
import { AgentprovError } from '../core/errors.js';
import { resolvePaths } from '../core/paths.js';

/** errnos that mean "this file system will not take the write". */
const NOT_WRITABLE = new Set(['EROFS', 'EACCES', 'EPERM', 'ENOSPC', 'EDQUOT', 'ENOTDIR', 'EISDIR', 'EFBIG', 'EMLINK', 'ENAMETOOLONG', 'ELOOP']);
/** The syscalls that write to the file system (never kill, connect, spawn, nor a read: those mean something else). */
const FS_SYSCALLS = new Set(['open', 'mkdir', 'mkdtemp', 'write', 'rename', 'unlink', 'rmdir', 'utime', 'futime', 'fsync', 'fdatasync', 'link', 'symlink', 'chmod', 'fchmod', 'chown', 'fchown', 'copyfile', 'ftruncate', 'close']);

interface FsError {
  code: string;
  syscall: string;
  path?: string;
  message?: string;
}

function fsError(err: unknown): FsError | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as Partial<FsError>;
  if (typeof e.code !== 'string') return undefined;
  if (typeof e.syscall !== 'string' || !FS_SYSCALLS.has(e.syscall)) return undefined;
  return e as FsError;
}

/**
 * STATE_NOT_WRITABLE for a file-system error that refuses a write, else
 * undefined. `path` names the file when the error itself does not (or names
 * a temporary file beside it).
 */
export function notWritable(err: unknown, path?: string, env: NodeJS.ProcessEnv = process.env): AgentprovError | undefined {
  const e = fsError(err);
  if (!e) return undefined;
  // mkdir of an existing non-directory: a file sits where a directory must be.
  const refused = NOT_WRITABLE.has(e.code) || (e.code === 'EEXIST' && e.syscall === 'mkdir');
  if (!refused) return undefined;
  const where = path ?? e.path ?? '(unknown path)';
  const dir = dirname(where);
  const why = describe(e.code);
  const steps = [`make ${dir} writable (and check the disk is not full or mounted read-only)`];
  if (underAgentprovHome(where, env)) steps.push('or set AGENTPROV_HOME to a writable directory: agentprov keeps its state, cache and config there');
  return new AgentprovError('STATE_NOT_WRITABLE', `agentprov cannot write ${where}: ${e.code} (${why}, ${e.syscall})`, {
    details: { path: where, errno: e.code, syscall: e.syscall, ...(e.path && e.path !== where ? { at: e.path } : {}) },
    nextSteps: steps,
    cause: err,
  });
}

function describe(code: string): string {
  switch (code) {
    case 'EROFS':
      return 'read-only file system';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'ENOSPC':
      return 'no space left on the device';
    case 'EDQUOT':
      return 'disk quota exceeded';
    case 'ENOTDIR':
    case 'EEXIST':
      return 'a file is in the way of a directory';
    case 'EISDIR':
      return 'a directory is in the way of a file';
    default:
      return 'the file system refused the write';
  }
}

function underAgentprovHome(path: string, env: NodeJS.ProcessEnv): boolean {
  const roots = resolvePaths(env);
  return [roots.state, roots.cache, roots.config].some((root) => {
    const rel = relative(root, path);
    return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
  });
}
