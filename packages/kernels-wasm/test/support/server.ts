// The demo's static server, shared by the browser tests (COOP/COEP unless ?isolated=0).
export { serveDemo, serveStatic } from '../../demo/serve.mjs';
export interface StaticServer {
  readonly url: string;
  close(): Promise<void>;
}
