import { createReferenceBackend } from '@trine/core';
import { describeConformance } from '../src/vitest.js';

// The oracle against a fresh instance of itself: every case must pass (and none may be unsupported).
describeConformance('reference', () => createReferenceBackend(), { requireSupport: true });
