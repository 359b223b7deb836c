/** Whether this run is CI's: there a missing counterpart (Secret Service, Chromium) fails the run instead of skipping suites. */
export const inCI = process.env.CI === 'true' || process.env.CI === '1';
