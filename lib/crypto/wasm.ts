/* eslint-disable @typescript-eslint/no-require-imports */
import type * as Wasm from '@matrix-org/matrix-sdk-crypto-wasm' with { 'resolution-mode': 'require' };
import { CryptoPackageMissingError, WASM_PACKAGE } from './errors';

export type WasmModule = typeof Wasm;

/**
 * Loads the engine (the official Rust crypto compiled to WebAssembly), on the first
 * `crypto.start()` only: nothing else in the SDK imports it, so an app that does not use
 * encryption neither loads nor installs it. A missing package is a CryptoPackageMissingError.
 */
export function loadWasm(): WasmModule {
  try {
    return require(WASM_PACKAGE) as WasmModule;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException)?.code;
    if (code === 'MODULE_NOT_FOUND' || code === 'ERR_MODULE_NOT_FOUND') throw new CryptoPackageMissingError(error);
    throw error;
  }
}
