// Time and size formatting for the attestation viewer. Pure (no DOM but the page's words, English
// without a page), so it can be unit-tested.
import type { CertificateView, PcrView, VerdictView } from '../../shared/attestationViewer';
import { libWords } from '../lib/l10n';
import { t } from './words';

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** A time in the viewer's local time zone: `13 Oct 2022, 10:58:02 CEST` (the browser's locale). */
export function localTime(ms: number): string {
  return new Date(ms).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'long' });
}

/** The value of an `<input type="datetime-local" step="1">` for an instant: local `YYYY-MM-DDTHH:MM:SS`. */
export function toLocalInput(ms: number): string {
  const d = new Date(ms);
  return (
    `${pad(d.getFullYear(), 4)}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}` +
    `T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
  );
}

/** The instant (ISO 8601, UTC) of a datetime-local value, read as local time; undefined when it is not one. */
export function fromLocalInput(value: string): string | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?$/.exec(value);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, ms] = m.map(Number);
  const date = new Date(y as number, (mo as number) - 1, d, h, mi, Number.isNaN(s) ? 0 : s, Number.isNaN(ms) ? 0 : ms);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

/** A duration in words: `3 h 0 min 3 s`, `20 days 1 h`, `30 years`. */
export function duration(ms: number): string {
  const s = Math.round(Math.abs(ms) / 1000);
  const days = Math.floor(s / 86400);
  if (days >= 730) return t('{0} years', Math.round(days / 365.25));
  if (days >= 2)
    return [t('{0} days', days), ...(s % 86400 >= 3600 ? [t('{0} h', Math.floor((s % 86400) / 3600))] : [])].join(' ');
  const h = Math.floor(s / 3600);
  const min = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const parts = (...shown: string[]) => shown.filter((p) => p !== '').join(' ');
  const secs = sec ? t('{0} s', sec) : '';
  if (h > 0) return min === 0 && sec === 0 ? t('{0} h', h) : parts(t('{0} h', h), t('{0} min', min), secs);
  if (min > 0) return parts(t('{0} min', min), secs);
  return t('{0} s', sec);
}

/** `1 byte`, `32 bytes`. */
export function bytes(n: number): string {
  return libWords.count(n, '1 byte', '{0} bytes');
}

/** What the copy button of a certificate's SHA-256 fingerprint copies (its accessible label and status text). */
export function fingerprintCopyWhat(c: Pick<CertificateView, 'roleNoun'>): string {
  return t('SHA-256 fingerprint of the {0}', c.roleNoun);
}

/** The class of a PCR's meaning cell: muted for a PCR without a meaning of its own (a flag, never its words). */
export function pcrMeaningClass(p: Pick<PcrView, 'reserved'>): string {
  return `pcr-meaning${p.reserved ? ' muted' : ''}`;
}

/** The verdict in one word, for the header's chip: `valid`, `invalid` or `unsigned` in the user's language. */
export function verdictWord(verdict: VerdictView['verdict']): string {
  return verdict === 'valid' ? t('valid') : verdict === 'unsigned' ? t('unsigned') : t('invalid');
}
