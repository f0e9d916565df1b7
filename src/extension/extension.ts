// First, so that its clock starts before the other modules of the bundle run.
import { noteFirstChildren, startup, type StartupTimes } from './startup';
import * as vscode from 'vscode';
import { VERSION } from '../engine';
import { createNitroCliBackends } from '../engine/node';
import { registerAttestation, type AttestationViewerApi } from './attestation/registerAttestation';
import { developmentSigningOf } from './attestation/developmentSigning';
import { registerBuild, type BuildApi } from './imagebuild/registerBuild';
import { registerNewProject } from './onboarding/newProject';
import { registerDescribeDocuments } from './commands/describeDocuments';
import { registerCommands } from './commands/registerCommands';
import { registerKeyPolicyDiagnostics } from './kms/policyDiagnostics';
import { registerAllowlistDiagnostics } from './vsockproxy/allowlistDiagnostics';
import { registerExplanations } from './errors/explain';
import { Ctx } from './ctx';
import { registerEifViewer, type EifEditorProvider } from './editors/eifEditorProvider';
import { VIEWS } from './ids';
import { EifService } from './images/eifService';
import { canRepairState, type EnclaveBackend } from '../engine';
import { engineDoctorForHost, type DoctorForHost, type NitroCliBackendFactory } from './parents/nitroCliParents';
import { developmentRootsOf, registerBackend, registerParents, type ParentsApi } from './parents/registerParents';
import { registerServices, type ServicesApi } from './services/registerServices';
import { ImagesTreeProvider } from './tree/imagesTree';
import type { ParentsTreeProvider } from './tree/parentsTree';

startup.modulesLoadedAt = performance.now();

/** What activate() returns: handles for the extension-host tests (not a public API). */
export interface NitroEnclavesApi {
  readonly version: string;
  readonly parents: ParentsTreeProvider;
  readonly images: ImagesTreeProvider;
  readonly log: vscode.LogOutputChannel;
  readonly eifViewer: EifEditorProvider;
  readonly attestation: AttestationViewerApi;
  readonly build: BuildApi;
  /**
   * The Parent Instances side: the backend registry, run rules, the current parent (status bar),
   * allocator diagnostics, consoles.
   */
  readonly parentInstances: ParentsApi;
  /** The local KMS and the vsock-proxies the extension runs. */
  readonly services: ServicesApi;
  /**
   * Adds a backend to the running extension (its parents join the Parent Instances view, its
   * capabilities the context keys); disposing the result removes it. For the extension-host tests
   * (test/vscode/fakeBackend.ts): backends of the extension itself come from the engine's registry.
   */
  registerBackend(backend: EnclaveBackend): vscode.Disposable;
  /** When the bundle loaded, activate() ran and the views first had children (the `activation` benchmark). */
  readonly startup: StartupTimes;
}

export function activate(context: vscode.ExtensionContext): NitroEnclavesApi {
  startup.activateStartedAt = performance.now();
  const ctx = new Ctx(context);
  context.subscriptions.push(ctx);

  const eifService = ctx.own(new EifService(ctx.log));
  const images = ctx.own(new ImagesTreeProvider(ctx.log, eifService));
  noteFirstChildren('images', images);
  const imagesView = vscode.window.createTreeView(VIEWS.images, { treeDataProvider: images });
  images.attach(imagesView);
  ctx.push(
    imagesView,
    // The workspace watcher can miss a file written together with its new folder (inotify watches a
    // folder only once it has seen it created), so the list is read again whenever the view is shown.
    imagesView.onDidChangeVisibility((e) => e.visible && images.refresh()),
  );
  const attestation = registerAttestation(ctx, { eifService });
  // Describe output opens as read-only JSON documents of the extension's own scheme.
  const describe = registerDescribeDocuments((...items) => ctx.push(...items));
  // The engine's nitro-cli backends (one per real parent of the settings) and its doctor over SSH.
  const nitroCliBackends: NitroCliBackendFactory = (options) => createNitroCliBackends(options);
  const doctorForHost: DoctorForHost = engineDoctorForHost;
  const { tree: parents, api: parentInstances } = registerParents(ctx, { attestation, describe, nitroCliBackends });
  noteFirstChildren('parents', parents);
  attestation.useDevelopmentRoots(() => developmentRootsOf(parentInstances.backends));
  // Re-signing an unsigned QEMU document (only on request) uses the embedded emulator's development CA.
  attestation.useDevelopmentSigning(() => {
    const [emulator] = parentInstances.backends.capable(canRepairState);
    return emulator ? developmentSigningOf(emulator.stateDir) : undefined;
  });
  const services = registerServices(ctx, {
    backends: parentInstances.backends,
    tree: parents,
    developmentRoots: () => developmentRootsOf(parentInstances.backends),
  });
  registerExplanations(ctx);
  registerCommands(ctx, {
    parents,
    images,
    describe,
    doctor: { backends: parentInstances.backends, nitroCli: parentInstances.nitroCli, doctorForHost },
  });
  registerKeyPolicyDiagnostics(ctx);
  registerAllowlistDiagnostics(ctx);
  const eifViewer = registerEifViewer(ctx, { describeDocuments: describe, eifService });
  const build = registerBuild(ctx, images);
  registerNewProject(ctx);

  startup.activatedAt = performance.now();
  const ms = (startup.activatedAt - startup.loadedAt).toFixed(0);
  ctx.log.info(`Nitro Enclaves ${VERSION} activated in ${ms} ms (VS Code ${vscode.version}, ${vscode.env.appHost})`);
  return {
    version: VERSION,
    parents,
    images,
    log: ctx.log,
    eifViewer,
    attestation,
    build,
    parentInstances,
    services,
    registerBackend: (backend) => registerBackend(ctx, parentInstances.backends, backend),
    startup,
  };
}

export function deactivate(): void {
  // Everything is disposed through context.subscriptions.
}
