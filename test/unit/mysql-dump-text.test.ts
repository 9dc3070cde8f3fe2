import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import {
  DefinerFilter,
  DumpRowCounter,
  MYSQL_DUMP_FOOTER,
  MYSQL_DUMP_HEADER,
} from '../../electron/engine/mysql/dump-text';

const DUMP = [
  '/*M!999999\\- enable the sandbox mode */ ',
  '-- MariaDB dump 10.19  Distrib 10.11.19-MariaDB, for debian-linux-gnu (x86_64)',
  'CREATE TABLE `t` (',
  '  `id` int(11) NOT NULL',
  ');',
  'CREATE TABLE `empty``odd` (x INT);',
  'INSERT INTO `t` VALUES',
  "(1,'it\\'s (not) a row; \\\\',0x28),",
  "(2,'),(','''(''')",
  "(3,NULL,'INSERT INTO `t` VALUES (9);');",
  "INSERT INTO `t` VALUES (4,'a'),(5,'b');",
  '-- a comment: INSERT INTO `t` VALUES (7);',
  '/*!50003 CREATE*/ /*!50017 DEFINER=`root`@`localhost`*/ /*!50003 TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET NEW.id = NEW.id */;;',
  '/*!50013 DEFINER=`root`@`%` SQL SECURITY DEFINER */',
  'CREATE DEFINER=`app`@`10.0.0.%` FUNCTION `f`() RETURNS int(11)',
  "INSERT INTO `t` VALUES (6,'DEFINER=`root`@`localhost`');",
  '-- Dump completed on 2026-12-02 15:00:52',
  '',
].join('\n');

/** The dump cut into pieces of `size` bytes. */
const pieces = (size: number): Buffer[] => {
  const b = Buffer.from(DUMP);
  const out: Buffer[] = [];
  for (let i = 0; i < b.length; i += size) out.push(b.subarray(i, i + size));
  return out;
};

describe('DumpRowCounter', () => {
  it('counts the tables and the row tuples of a dump, whatever the chunk boundaries', () => {
    for (const size of [1, 2, 7, 64, 100_000]) {
      const c = new DumpRowCounter();
      for (const p of pieces(size)) c.write(p);
      expect(c.result(), `chunks of ${size}`).toEqual({ 'empty`odd': 0, t: 6 });
    }
  });

  it('recognises the header and the completion line', () => {
    expect(MYSQL_DUMP_HEADER.test(DUMP.slice(0, 200))).toBe(true);
    expect(MYSQL_DUMP_FOOTER.test(DUMP.slice(-256))).toBe(true);
    expect(MYSQL_DUMP_FOOTER.test(DUMP.slice(0, -45))).toBe(false);
  });
});

describe('DefinerFilter', () => {
  it("drops DEFINER clauses on the dump's DDL lines only, never in row data", async () => {
    for (const size of [1, 5, 100_000]) {
      const f = new DefinerFilter();
      const out = (await buffer(Readable.from(pieces(size)).pipe(f))).toString();
      expect(out, `chunks of ${size}`).toContain('/*!50003 CREATE*/ /*!50017 */ /*!50003 TRIGGER tr');
      expect(out).toContain('/*!50013 SQL SECURITY DEFINER */');
      expect(out).toContain('CREATE FUNCTION `f`()');
      expect(out).toContain("INSERT INTO `t` VALUES (6,'DEFINER=`root`@`localhost`');");
      expect(f.removed).toBe(3);
      expect(out.length).toBe(
        DUMP.length -
          'DEFINER=`root`@`localhost`'.length -
          'DEFINER=`root`@`%` '.length -
          'DEFINER=`app`@`10.0.0.%` '.length,
      );
    }
  });
});
