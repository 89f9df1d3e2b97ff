/**
 * The login's password check: IMGASSETS_VIEWER_PASSWORD_HASH, as `imgassets viewer-password` makes it
 * (imgassets/core/settings.py `hash_viewer_password`), verified with Node's built-in scrypt.
 *
 *   scrypt:N=32768,r=8,p=1:<salt>:<key>
 *
 * scrypt (RFC 7914) of the password's UTF-8 bytes (NFC), salt and key in base64url without padding.
 */
import { createHmac, randomBytes, scrypt, timingSafeEqual } from "node:crypto";

export interface PasswordHash {
  n: number;
  r: number;
  p: number;
  salt: Buffer;
  key: Buffer;
}

const PATTERN = /^scrypt:N=(\d{1,8}),r=(\d{1,2}),p=(\d{1,2}):([A-Za-z0-9_-]{22,88}):([A-Za-z0-9_-]{43,86})$/;
/** 128·N·r, the memory one check takes, at most (as in imgassets/core/settings.py). */
const MAX_MEMORY = 256 * 2 ** 20;
const FORMAT = "the output of `imgassets viewer-password`: scrypt:N=32768,r=8,p=1:<salt>:<key>";

export function parsePasswordHash(text: string): PasswordHash {
  const match = PATTERN.exec(text.trim());
  if (match === null) throw new Error(`expected ${FORMAT}`);
  const [n, r, p] = [match[1], match[2], match[3]].map(Number);
  const salt = Buffer.from(match[4], "base64url");
  const key = Buffer.from(match[5], "base64url");
  if (n < 2 ** 14 || (n & (n - 1)) !== 0 || r < 1 || r > 32 || p < 1 || p > 16 || 128 * n * r > MAX_MEMORY) {
    throw new Error(`expected ${FORMAT} (N a power of two from 16384, 128·N·r at most 256 MiB, r ≤ 32, p ≤ 16)`);
  }
  if (salt.length < 16 || key.length < 32 || key.length > 64) {
    throw new Error(`expected ${FORMAT} (a salt of 16+ bytes, a key of 32-64 bytes)`);
  }
  return { n, r, p, salt, key };
}

function derive(password: string, salt: Buffer, n: number, r: number, p: number, length: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(
      Buffer.from(password.normalize("NFC"), "utf8"),
      salt,
      length,
      { N: n, r, p, maxmem: 2 * MAX_MEMORY },
      (error, key) => (error ? reject(error) : resolve(key)),
    );
  });
}

/** Whether `password` is the one `hash` was made from (constant-time comparison). */
export async function verifyPassword(password: string, hash: PasswordHash): Promise<boolean> {
  const key = await derive(password, hash.salt, hash.n, hash.r, hash.p, hash.key.length);
  return timingSafeEqual(key, hash.key);
}

/** A hash in the same format (tests; the documented way is `imgassets viewer-password`). */
export async function hashPassword(password: string, n = 2 ** 15, r = 8, p = 1): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, n, r, p, 32);
  return `scrypt:N=${n},r=${r},p=${p}:${salt.toString("base64url")}:${key.toString("base64url")}`;
}

/** Equal strings, in a time that does not tell how much of them matched. */
export function sameText(a: string, b: string): boolean {
  const key = randomBytes(32);
  const digest = (text: string) => createHmac("sha256", key).update(text, "utf8").digest();
  return timingSafeEqual(digest(a), digest(b));
}

/**
 * The login's check: the user name and the password, both. The password is checked even for a wrong user name,
 * so the time taken does not tell whether the name was right.
 */
export async function checkLogin(
  given: { user: string; password: string },
  wanted: { user: string; passwordHash: PasswordHash },
): Promise<boolean> {
  const userOk = sameText(given.user, wanted.user);
  const passwordOk = await verifyPassword(given.password, wanted.passwordHash);
  return userOk && passwordOk;
}
