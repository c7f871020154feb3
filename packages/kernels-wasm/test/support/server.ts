// The static server of the browser tests, bench-kernels --browser and apps/web (COOP/COEP unless ?isolated=0).
export { distMounts, importMapScript, serveStatic } from './static-server.mjs';
export interface StaticServer {
  readonly url: string;
  close(): Promise<void>;
}
