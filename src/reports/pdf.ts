// A report printed to PDF by Chromium, with the network closed.
import type { SharedBrowser } from '../util/chromium.ts';

/** Prints the report HTML to an A4 PDF in Chromium, after the charts are drawn. No network: every request is refused. */
export async function renderReportPdf(html: string, browser: SharedBrowser, timeoutMs = 20_000): Promise<Buffer> {
  const context = await browser.context({ javaScriptEnabled: true, offline: true });
  try {
    const page = await context.newPage();
    await page.route('**/*', (route) => route.abort());
    await page.setContent(html, { waitUntil: 'load', timeout: timeoutMs });
    await page.waitForFunction(
      () => (window as unknown as { __reportReady?: boolean }).__reportReady === true,
      undefined,
      { timeout: timeoutMs },
    );
    await page.emulateMedia({ media: 'print' });
    return await page.pdf({
      format: 'A4',
      printBackground: true,
      margin: { top: '14mm', bottom: '14mm', left: '12mm', right: '12mm' },
      displayHeaderFooter: true,
      headerTemplate: '<span></span>',
      footerTemplate:
        '<div style="font-size:8px;width:100%;text-align:center;color:#666">page <span class="pageNumber"></span> of <span class="totalPages"></span></div>',
    });
  } finally {
    await context.close();
  }
}
