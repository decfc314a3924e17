// Incident folders as .tar.gz: packing one for download, and unpacking an uploaded one
// safely. Uploads are untrusted: only regular files and directories are accepted (no
// symlinks, hard links, devices), every path must stay inside the target folder, and the
// unpacked size and entry count are bounded (a small gzip can expand enormously).

import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import * as tar from 'tar';

export class ArchiveError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ArchiveError';
  }
}

export interface ExtractLimits {
  maxBytes: number;
  maxEntries: number;
}

/** A gzip-compressed tar of `<parentDir>/<name>` whose entries start with `<name>/`. */
export function packFolder(parentDir: string, name: string): Readable {
  return tar.c({ gzip: true, cwd: parentDir, portable: true }, [name]) as unknown as Readable;
}

/** Checks an entry path from an archive; returns it normalized (posix, relative), or throws. */
export function safeEntryPath(p: string): string {
  if (p.includes('\0')) throw new ArchiveError(`archive entry "${p}" has a NUL byte`);
  if (p.includes('\\')) throw new ArchiveError(`archive entry "${p}" has a backslash`);
  if (p.startsWith('/') || /^[A-Za-z]:/.test(p)) throw new ArchiveError(`archive entry "${p}" is an absolute path`);
  const norm = path.posix.normalize(p).replace(/\/+$/, '');
  if (norm === '..' || norm.startsWith('../') || norm.split('/').includes('..')) throw new ArchiveError(`archive entry "${p}" leaves the folder (..)`);
  return norm === '.' ? '' : norm;
}

/**
 * Unpacks a .tar.gz (or plain .tar) held in memory into `dest`, refusing the whole archive
 * at the first entry that is not a plain file or folder or whose path escapes `dest`.
 */
export async function extractArchive(data: Buffer, dest: string, limits: ExtractLimits): Promise<{ files: number; bytes: number }> {
  const files = new Map<string, Buffer>();
  const dirs = new Set<string>();
  let total = 0;
  let entries = 0;

  await new Promise<void>((resolve, reject) => {
    let failed = false;
    const fail = (err: Error) => {
      if (!failed) {
        failed = true;
        reject(err);
      }
    };
    const parser = new tar.Parser({
      strict: true,
      onReadEntry: (entry) => {
        if (failed) return entry.resume();
        try {
          entries++;
          if (entries > limits.maxEntries) throw new ArchiveError(`archive has more than ${limits.maxEntries} entries`);
          const rel = safeEntryPath(entry.path);
          if (entry.type === 'Directory') {
            if (rel) dirs.add(rel);
            entry.resume();
            return;
          }
          if (entry.type !== 'File' && entry.type !== 'OldFile' && entry.type !== 'ContiguousFile') {
            throw new ArchiveError(`archive entry "${entry.path}" is a ${entry.type}; only files and folders are accepted`);
          }
          if (!rel) throw new ArchiveError(`archive entry "${entry.path}" has no name`);
          total += entry.size ?? 0;
          if (total > limits.maxBytes) throw new ArchiveError(`archive unpacks to more than ${limits.maxBytes} bytes`);
          const chunks: Buffer[] = [];
          entry.on('data', (c: Buffer) => chunks.push(c));
          entry.on('end', () => files.set(rel, Buffer.concat(chunks)));
        } catch (err) {
          entry.resume();
          fail(err as Error);
        }
      },
    });
    parser.on('error', (err: Error) => fail(new ArchiveError(`not a valid .tar.gz: ${err.message}`)));
    parser.on('warn', (_code: string, message: string) => fail(new ArchiveError(`not a valid .tar.gz: ${message}`)));
    parser.on('end', () => (failed ? undefined : resolve()));
    parser.on('close', () => (failed ? undefined : resolve()));
    parser.end(data);
  });

  if (files.size === 0) throw new ArchiveError('archive holds no files');
  const root = path.resolve(dest);
  for (const d of dirs) await mkdir(path.join(root, d), { recursive: true });
  for (const [rel, content] of files) {
    const target = path.resolve(root, rel);
    if (!target.startsWith(root + path.sep)) throw new ArchiveError(`archive entry "${rel}" leaves the folder`);
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(target, content, { flag: 'wx' });
  }
  return { files: files.size, bytes: total };
}
