// The Enclave Image Viewer's webview: says `ready`, then shows whatever the host sends (the view
// model, measuring progress, or why the file cannot be shown). Data always comes from the host;
// the webview keeps only UI state (which cards are collapsed) in the webview state.
import {
  parseHostMessage,
  type EifViewError,
  type EifViewModel,
  type EifViewerHostMessage,
} from '../../shared/eifViewer';
import { READY } from '../../shared/protocol';
import { HostConnection, collapsedCards } from '../lib/vscodeApi';
import { h } from '../lib/dom';
import { percent } from '../lib/format';
import { errorPage, loadingPage, modelPage, progressText, titleBar, type ViewActions } from './view';

interface ViewState {
  readonly collapsed: readonly string[];
}

type Screen =
  | { readonly kind: 'loading' }
  | { readonly kind: 'model'; readonly model: EifViewModel }
  | { readonly kind: 'error'; readonly error: EifViewError };

let screen: Screen = { kind: 'loading' };
let progress: { done: number; total: number } | undefined;

const root = document.getElementById('root') ?? document.body.appendChild(document.createElement('div'));

const connection = new HostConnection<ViewState, EifViewerHostMessage>({
  parse: parseHostMessage,
  handlers: {
    init: ({ body }) => {
      screen = { kind: 'model', model: body.model };
      progress = undefined;
      render();
    },
    error: ({ body }) => {
      screen = { kind: 'error', error: body };
      progress = undefined;
      render();
    },
    progress: ({ body }) => {
      progress = body.done < body.total ? body : undefined;
      renderProgress();
    },
  },
});

const cards = collapsedCards(connection);

const actions: ViewActions = {
  copy: (text, what) => connection.request('copy', { text, what }),
  copyKmsCondition: (pcr, key) => connection.request('copyKmsCondition', { pcr, key }),
  describe: () => connection.post('describe'),
  reload: () => connection.post('reload'),
  imageAction: (action) => connection.post(action),
  isCollapsed: cards.isCollapsed,
  setCollapsed: cards.setCollapsed,
};

/** The file name the page was opened for (the host sets it as the page title). */
function fileName(): { name: string; path?: string } {
  if (screen.kind === 'model') return screen.model.file;
  if (screen.kind === 'error') return { name: screen.error.fileName };
  return { name: document.title };
}

const progressBar = h('div', {
  class: 'progress',
  role: 'progressbar',
  'aria-valuemin': 0,
  'aria-valuemax': 100,
  hidden: true,
});
const progressFill = h('div', { class: 'progress-fill' });
const progressLabel = h('span', { class: 'progress-label' });
progressBar.append(progressFill);

function renderProgress(): void {
  progressBar.hidden = progress === undefined;
  progressLabel.hidden = progress === undefined;
  if (!progress) return;
  const p = percent(progress.done, progress.total);
  // Setting a style property through the CSSOM is allowed by the CSP (style attributes are not).
  progressFill.style.width = `${p}%`;
  progressBar.setAttribute('aria-valuenow', String(p));
  progressLabel.textContent = progressText(progress.done, progress.total);
}

function render(): void {
  const bar = titleBar(actions, fileName(), screen.kind === 'model' ? screen.model : undefined);
  bar.querySelector('.title')?.append(progressLabel);
  bar.append(progressBar);
  const main = h('main', { class: 'content' });
  if (screen.kind === 'model') main.append(...modelPage(actions, screen.model));
  else if (screen.kind === 'error') main.append(errorPage(actions, screen.error));
  else main.append(loadingPage(fileName().name));
  root.replaceChildren(bar, main);
  document.body.dataset['state'] = screen.kind;
  renderProgress();
}

render();
connection.post(READY);
