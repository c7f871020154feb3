import { project } from '../../vitest.shared';
export default project('kernels-webgpu');
