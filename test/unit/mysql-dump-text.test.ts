import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import {
  DefinerFilter,
  DumpStatementGuard,
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

describe('DumpStatementGuard', () => {
  const guard = async (sql: string, split = 7): Promise<string> => {
    const b = Buffer.from(sql);
    const chunks = [];
    for (let i = 0; i < b.length; i += split) chunks.push(b.subarray(i, i + split));
    try {
      const out = await buffer(Readable.from(chunks).pipe(new DumpStatementGuard()));
      expect(out.toString()).toBe(sql);
      return 'ok';
    } catch (e) {
      return (e as Error).message;
    }
  };
  const plain = [
    '/*M!999999\\- enable the sandbox mode */ ',
    '-- MariaDB dump 10.19  Distrib 10.11.19-MariaDB',
    '/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;',
    'CREATE TABLE `t` (`id` int(11) NOT NULL, `grant` text) ENGINE=InnoDB;',
    "INSERT INTO `t` VALUES (1,'x\\'; DROP DATABASE other; \\\\'),(2,'-- USE other\\nGRANT ALL'),(3,'/*! GRANT */');",
    'DELIMITER ;;',
    'CREATE PROCEDURE `p`() BEGIN START TRANSACTION; SELECT 1--1; COMMIT; END ;;',
    '/*!50003 CREATE*/ /*!50020 DEFINER=`root`@`localhost`*/ /*!50003 TRIGGER `trg` BEFORE INSERT ON `t` FOR EACH ROW SET NEW.`grant` = 1 */;;',
    'DELIMITER ;',
    '/*!50001 VIEW `v` AS select `t`.`id` AS `id` from `t` USE INDEX (PRIMARY) */;',
    '-- Dump completed',
    '',
  ].join('\n');

  it('passes a plain dump byte for byte (strings, quoted names, comments, bodies, the sandbox line)', async () => {
    expect(await guard(plain)).toBe('ok');
    expect(await guard(plain, 1)).toBe('ok');
  });

  it.each([
    ['DROP DATABASE `other`;', /`DROP DATABASE` \(line 2\)/],
    ['USE `other`;\nDROP TABLE `keep`;', /`USE` at a statement/],
    ['/*!50003 GRANT ALL ON *.* TO x */;', /`GRANT`/],
    ['INSERT INTO `t` VALUES (1);drop   schema\n other;', /`DROP SCHEMA`/],
    ['CREATE EVENT e ON SCHEDULE EVERY 1 DAY DO DROP /* x */ DATABASE other;', /`DROP DATABASE`/],
    ["SET PASSWORD FOR 'root'@'localhost' = PASSWORD('x');", /`SET PASSWORD`/],
    ['connect other;', /`CONNECT`/],
    ['\\u other', /client command \(\\u\)/],
    ['SELECT 1--1\nDROP DATABASE x;', /`DROP DATABASE`/],
    ['SET @@global.read_only = 1;', /`@@GLOBAL`/],
  ])('refuses %j', async (bad, why) => {
    expect(await guard(`-- MariaDB dump 10.19\n${bad}\n-- Dump completed\n`)).toMatch(why);
  });
});
