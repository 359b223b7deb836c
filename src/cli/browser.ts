/**
 * Open a URL in the user's browser when there is one. Returns false when no
 * browser can be opened (no display, SSH session, container), so the caller
 * prints the URL instead.
 */
import { spawn } from 'node:child_process';

export function hasBrowser(env: NodeJS.ProcessEnv, platform: NodeJS.Platform = process.platform): boolean {
  if (env.AGENTPROV_NO_BROWSER) return false;
  if (env.BROWSER) return true;
  if (platform === 'darwin' || platform === 'win32') return !env.SSH_CONNECTION;
  return Boolean(env.DISPLAY || env.WAYLAND_DISPLAY) && !env.SSH_CONNECTION;
}

export async function openBrowser(url: string, env: NodeJS.ProcessEnv): Promise<boolean> {
  if (!hasBrowser(env)) return false;
  const [cmd, args] =
    env.BROWSER !== undefined
      ? [env.BROWSER, [url]]
      : process.platform === 'darwin'
        ? ['open', [url]]
        : process.platform === 'win32'
          ? // Not `cmd /c start`: cmd would split the URL at its first `&` and run the rest as a command.
            ['rundll32', ['url.dll,FileProtocolHandler', url]]
          : ['xdg-open', [url]];
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: 'ignore', detached: true });
    child.once('error', () => resolve(false));
    child.once('spawn', () => {
      child.unref();
      resolve(true);
    });
  });
}
