/**
 * Importing the CUDA backend registers it with the engine runtime when CUDA can run in this
 * process (the addon is built and loads, a driver and a device are present), so that
 * compile(..., { device: 'cuda' }) and Builder({ backend: 'cuda' }) find it.
 */
import { registerCudaBackend } from './backend.js';

registerCudaBackend();
