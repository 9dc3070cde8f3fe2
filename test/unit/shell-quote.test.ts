import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { shellLine, shellQuote, shellWord } from '../../shared/shell-quote';

describe('shellQuote', () => {
  it('leaves plain words alone and quotes what a shell would split or expand', () => {
    expect(shellQuote('--level')).toBe('--level');
    expect(shellQuote('/media/usb-1')).toBe('/media/usb-1');
    expect(shellQuote('site=DR site')).toBe("'site=DR site'");
    expect(shellQuote("O'Brien")).toBe(`'O'\\''Brien'`);
    expect(shellQuote('$HOME')).toBe("'$HOME'");
    expect(shellQuote('a;rm -rf /')).toBe("'a;rm -rf /'");
    expect(shellQuote('')).toBe("''");
    expect(shellQuote('<key file>')).toBe('<key file>');
    // A word Lifeboat runs itself has no placeholders: a folder named <x> is quoted like any other.
    expect(shellWord('<key file>')).toBe("'<key file>'");
    expect(shellWord('/media/usb-1')).toBe('/media/usb-1');
    expect(shellLine(['lifeboat', 'run', 'dr-site-activation', '--input', 'site=DR site'])).toBe(
      "lifeboat run dr-site-activation --input 'site=DR site'",
    );
  });

  it('a real shell reads back exactly the arguments given', () => {
    const args = [
      'site=DR site',
      "it's",
      '$(touch /tmp/never)',
      'tab\there',
      'new\nline',
      '*',
      '\\back',
      '"dq"',
      '',
      'plain',
    ];
    const out = execFileSync('sh', ['-c', `printf '%s\\0' ${shellLine(args)}`], { timeout: 5000 }).toString('utf8');
    expect(out.split('\0').slice(0, -1)).toEqual(args);
  });
});
