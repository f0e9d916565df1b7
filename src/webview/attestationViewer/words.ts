// The Attestation Document Viewer's words in the user's language: the table the host put in the page
// (src/extension/attestation/attestationViewerWords.ts), English where it lacks a word or there is no page.
import { ATTESTATION_VIEWER_WORDS } from '../../shared/attestationViewerWords';
import { wordsFromPage } from '../lib/l10n';

export const { t, count } = wordsFromPage(ATTESTATION_VIEWER_WORDS);
