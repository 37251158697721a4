/**
 * A pragmatic e-mail address check: one @, a local part without spaces, and a
 * dotted domain of letters, digits and hyphens. Length limits follow RFC 5321.
 */
const LOCAL = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+$/;
const LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

export function isEmailAddress(value: unknown): value is string {
  if (typeof value !== "string" || value.length > 254) return false;
  const at = value.lastIndexOf("@");
  if (at < 1 || at !== value.indexOf("@")) return false;
  const local = value.slice(0, at);
  const domain = value.slice(at + 1);
  if (local.length > 64 || !LOCAL.test(local) || local.startsWith(".") || local.endsWith(".") || local.includes("..")) {
    return false;
  }
  const labels = domain.split(".");
  return labels.length >= 2 && labels.every((l) => LABEL.test(l)) && /[A-Za-z]/.test(labels[labels.length - 1]!);
}

/** The lower-cased domain of an address: the event's ISP (CONTRACT §7). */
export const ispOf = (email: string): string => email.slice(email.lastIndexOf("@") + 1).toLowerCase();
