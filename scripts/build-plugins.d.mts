// Types of scripts/build-plugins.mjs (a plain ES module of the build, shared by tsup.config.ts and scripts/build-sea.mjs).
import type { Plugin } from 'esbuild';

export declare const leanStartup: Plugin;
export declare const englishOnlyZod: Plugin;
