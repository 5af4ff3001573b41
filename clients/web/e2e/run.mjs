// `node run.mjs <scenario>`: runs one scenario of scenarios.mjs; exit 1 with its name and what was seen.
import * as scenarios from './scenarios.mjs';
import { log, overflows, removeUserDataDirs } from './lib.mjs';

const name = process.argv[2];
const scenario = scenarios[name];
if (!scenario) {
  console.error(`unknown scenario "${name}"; known: ${Object.keys(scenarios).join(', ')}`);
  process.exit(2);
}
const started = Date.now();
try {
  await scenario();
  if (overflows.length) {
    throw new Error(`pages wider than the screen (they scroll sideways): ${JSON.stringify(overflows)}`);
  }
  removeUserDataDirs();
  log(`SCENARIO ${name} PASSED in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  process.exit(0);
} catch (error) {
  console.error(`SCENARIO ${name} FAILED: ${error.message}`);
  console.error("browser profiles kept for a look: ${TMPDIR:-/tmp}/studysync-chromium-*");
  if (!(error.name === 'ScenarioError')) console.error(error.stack);
  process.exit(1);
}
