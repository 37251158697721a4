import type { Item } from "../domain/owned.js";

/**
 * Personalisation tags (ENGINE §8.1, §8.5), case-insensitive:
 * `%Subscriber:EmailAddress%`, `%Subscriber:SubscriberID%`,
 * `%Subscriber:CustomField<ID>%` (the value, or ""), `%Link:Unsubscribe%`; and, for
 * SMS, `{{EmailAddress}}`, `{{SubscriberID}}`, `{{CustomField<ID>}}`. Unknown tags
 * stay as they are. In HTML the values are escaped, since a subscriber's own field
 * value must never become markup in someone's mail client.
 */
export interface PersonalisationValues {
  EmailAddress: string;
  SubscriberID: number;
  CustomFields: Record<string, string>;
  /** The one-click unsubscribe page (§8.4); absent for SMS. */
  UnsubscribeUrl?: string;
}

export const escapeHtml = (s: string): string =>
  s.replace(/[&<>"']/g, (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[ch]!);

/** The values a subscriber item gives the tags. */
export function valuesOf(subscriber: Item, unsubscribeUrl?: string): PersonalisationValues {
  const fields = subscriber["CustomFields"];
  return {
    EmailAddress: String(subscriber["EmailAddress"] ?? ""),
    SubscriberID: Number(subscriber["SubscriberID"] ?? 0),
    CustomFields: fields && typeof fields === "object" ? (fields as Record<string, string>) : {},
    ...(unsubscribeUrl !== undefined ? { UnsubscribeUrl: unsubscribeUrl } : {}),
  };
}

/** The value a tag name stands for, or undefined for a tag this product does not know. */
function lookup(name: string, v: PersonalisationValues): string | undefined {
  const n = name.toLowerCase();
  if (n === "emailaddress") return v.EmailAddress;
  if (n === "subscriberid") return String(v.SubscriberID);
  const field = /^customfield(\d+)$/.exec(n);
  if (field) return v.CustomFields[String(Number(field[1]))] ?? "";
  return undefined;
}

export function personalise(text: string, v: PersonalisationValues, opts: { html?: boolean; sms?: boolean } = {}): string {
  const out = (value: string) => (opts.html ? escapeHtml(value) : value);
  let result = text.replace(/%(Subscriber|Link):([A-Za-z0-9]+)%/gi, (whole, scope: string, name: string) => {
    if (scope.toLowerCase() === "link") {
      return name.toLowerCase() === "unsubscribe" && v.UnsubscribeUrl !== undefined ? out(v.UnsubscribeUrl) : whole;
    }
    const value = lookup(name, v);
    return value === undefined ? whole : out(value);
  });
  if (opts.sms) {
    result = result.replace(/\{\{\s*([A-Za-z0-9]+)\s*\}\}/g, (whole, name: string) => lookup(name, v) ?? whole);
  }
  return result;
}
