/** The report's interface for the runner and the CLIs: one page per run, one index of runs. */
export { writeReport } from './report.ts';
export { writeIndex } from './index-page.ts';
