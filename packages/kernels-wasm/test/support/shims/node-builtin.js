// Stands in for Node built-ins that @trine/core imports at module level but only calls on Node code paths
// (file-system model loading). Any call in the browser fails loudly.
const unavailable = (name) => () => {
  throw new Error(`${name} is not available in a browser: pick a model file or use the embedded default`);
};
const stub = new Proxy({}, { get: (_, key) => unavailable(String(key)) });
export default stub;
export const join = unavailable('path.join');
export const resolve = unavailable('path.resolve');
export const dirname = unavailable('path.dirname');
export const basename = unavailable('path.basename');
export const sep = '/';
