/**
 * The terminal prompts agentprov uses, each from its own package. Through
 * `@inquirer/prompts` every prompt came along, the editor prompt's
 * iconv-lite encoding tables among them: half a megabyte that the single
 * executable compiled on every start (the bundler could not drop them).
 */
export { default as confirm } from '@inquirer/confirm';
export { default as password } from '@inquirer/password';
export { default as select } from '@inquirer/select';
