export * from './ref.js';
export * from './settings.js';
export * from './cache.js';
export * from './choose.js';
export * from './api.js';
export { HubHttp, type HttpOptions, type RequestContext } from './http.js';
export * from './lock.js';
export * from './pull.js';
export * from './models.js';
