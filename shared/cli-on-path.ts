/**
 * How to put the package's `lifeboat` command on PATH, per OS (Settings shows it; README's
 * "Install on the DR laptop" says the same). The wrapper lives in the package's resources/bin
 * (packaging/bin/lifeboat, lifeboat.cmd) and runs the bundled CLI with the app's executable.
 */
export interface CliOnPath {
  /** What the operator does, in order. */
  steps: string[];
  /** A command to copy, when there is one. */
  command: string | null;
}

export function cliOnPath(platform: string): CliOnPath {
  switch (platform) {
    case 'linux':
      return {
        steps: [
          'The deb package installs it as /usr/bin/lifeboat: nothing to do.',
          'From the AppImage: extract it once (--appimage-extract) and link squashfs-root/resources/bin/lifeboat onto PATH.',
        ],
        command: null,
      };
    case 'darwin':
      return {
        steps: ['Link the command inside the app onto PATH, once (it asks for your password):'],
        command: 'sudo ln -s /Applications/Lifeboat.app/Contents/Resources/bin/lifeboat /usr/local/bin/lifeboat',
      };
    case 'win32':
      return {
        steps: [
          'Add the install folder’s resources\\bin to your PATH (Settings → System → About → Advanced system settings → Environment Variables), or run once in PowerShell:',
        ],
        command: `[Environment]::SetEnvironmentVariable('Path', [Environment]::GetEnvironmentVariable('Path', 'User') + ';' + "$env:LOCALAPPDATA\\Programs\\Lifeboat\\resources\\bin", 'User')`,
      };
    default:
      return { steps: ['Add the package’s resources/bin folder to PATH.'], command: null };
  }
}
