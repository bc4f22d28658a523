// Run as a child process (as the user under test): starts the shared Chromium,
// reads chrome://sandbox and prints {"sandboxed": <what SharedBrowser chose>, "status": <what Chromium reports>}.
import { SharedBrowser } from '../../src/util/chromium.ts';

const browser = new SharedBrowser();
try {
  const context = await browser.context();
  const page = await context.newPage();
  await page.goto('chrome://sandbox');
  const text = (await page.textContent('body')) ?? '';
  process.stdout.write(
    `${JSON.stringify({ sandboxed: browser.sandboxed, status: /You are (NOT )?adequately sandboxed/.exec(text)?.[0] ?? text.slice(0, 200) })}\n`,
  );
} finally {
  await browser.close();
}
