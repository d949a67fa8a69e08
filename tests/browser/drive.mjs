#!/usr/bin/env node
// drive.mjs — drives one page in the system's headless Chromium through playwright-core (no downloaded browser)
// and records what happened, for ctcf's browser tests (tests/java/org/ctcf/report/Browser.java).
//
//   node drive.mjs script.json
//
// script.json:
//   {"page": "file:///.../report.html",      the URL to open
//    "viewport": [1100, 1400],               CSS pixels (default 1100 x 1400)
//    "out": "/dir",                          where results.json and the screenshots go (default: the script's folder)
//    "chromium": "/usr/bin/chromium",        optional; else $CTCF_CHROMIUM, /usr/bin/chromium, chromium-browser, chrome
//    "timeoutMs": 30000,                     optional default for each step (and the page load)
//    "steps": [ ... ]}
// Steps (one kind each; "timeoutMs" on any step overrides the default):
//   {"waitFor": "<js expression>"}                      until it is truthy (polled every 100 ms)
//   {"click": "<css selector>"}                         the first match, like a user (waits until it is clickable)
//   {"clickAt": "<css selector>", "x": 0.5, "y": 0.5}   a mouse click at fractions of the element's box (a canvas
//                                                        chart); x, y default 0.5; "button": "left" | "right" | "middle"
//   {"hover": "<css selector>", "x": 0.5, "y": 0.5}     the mouse moved there
//   {"drag": "<css selector>", "from": [fx, fy], "to": [fx, fy]}   mouse down, move (10 steps), up
//   {"press": "<key>"}                                  a key press on the focused element (Playwright key names)
//   {"eval": "<js expression>", "as": "name"}           its value (awaited if a promise) goes to values.name
//   {"screenshot": "name.png", "selector": "<css>"}     the viewport, or clipped to the element's box
//   {"sleepMs": 500}
// out/results.json: {ok, error, failedStep, steps: [{index, kind, ms, ok}], values: {name: value},
//   screenshots: {"name.png": {path, selector, box: {x, y, width, height}, deviceScaleFactor}} (box: CSS pixels,
//   viewport coordinates at the time of the shot; an image pixel (px, py) is box.x + px / deviceScaleFactor, ...),
//   console: [{type, text, location}], pageErrors: [text], externalRequests: [url] (anything but file:, data:, blob:),
//   viewport}. It is written whatever happens; the exit status is 0 when every step passed, 1 when a step failed,
//   2 when the script or the browser could not be used.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';

const KINDS = ['waitFor', 'click', 'clickAt', 'hover', 'drag', 'press', 'eval', 'screenshot', 'sleepMs'];
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run', '--enable-unsafe-swiftshader',
    '--use-angle=swiftshader'];

function findChromium(script) {
    const candidates = [script.chromium, process.env.CTCF_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser',
        '/usr/bin/google-chrome'].filter(Boolean);
    return candidates.find((c) => existsSync(c)) ?? null;
}

class StepError extends Error {}

function describe(step) {
    const s = JSON.stringify(step);
    return s.length > 200 ? s.slice(0, 200) + '…' : s;
}

async function elementBox(page, selector, timeout) {
    const el = page.locator(selector).first();
    try {
        await el.waitFor({ state: 'visible', timeout });
    } catch (e) {
        const n = await page.locator(selector).count().catch(() => 0);
        throw new StepError(n === 0 ? `selector "${selector}" matched no element within ${timeout} ms`
            : `selector "${selector}" matched ${n} element(s) but none became visible within ${timeout} ms`);
    }
    await el.scrollIntoViewIfNeeded({ timeout });
    const box = await el.boundingBox();
    if (!box || box.width === 0 || box.height === 0) {
        throw new StepError(`selector "${selector}" has an empty box`);
    }
    return box;
}

function at(box, fx, fy) {
    return { x: box.x + (fx ?? 0.5) * box.width, y: box.y + (fy ?? 0.5) * box.height };
}

async function runStep(page, step, timeout, ctx) {
    const kinds = KINDS.filter((k) => k in step);
    if (kinds.length !== 1) {
        throw new StepError(`a step needs exactly one of ${KINDS.join(', ')}; got ${describe(step)}`);
    }
    const kind = kinds[0];
    switch (kind) {
        case 'waitFor':
            try {
                await page.waitForFunction(step.waitFor, null, { timeout, polling: 100 });
            } catch (e) {
                if (e.name === 'TimeoutError') {
                    throw new StepError(`waitFor \`${step.waitFor}\` was not truthy within ${timeout} ms`);
                }
                throw new StepError(`waitFor \`${step.waitFor}\` threw: ${e.message.split('\n')[0]}`);
            }
            break;
        case 'click':
            await elementBox(page, step.click, timeout);
            try {
                await page.locator(step.click).first().click({ timeout });
            } catch (e) {
                throw new StepError(`click on "${step.click}" failed: ${e.message.split('\n')[0]}`);
            }
            break;
        case 'clickAt': {
            const p = at(await elementBox(page, step.clickAt, timeout), step.x, step.y);
            await page.mouse.click(p.x, p.y, { button: step.button ?? 'left' });
            break;
        }
        case 'hover': {
            const p = at(await elementBox(page, step.hover, timeout), step.x, step.y);
            await page.mouse.move(p.x, p.y, { steps: 2 });
            break;
        }
        case 'drag': {
            const box = await elementBox(page, step.drag, timeout);
            const from = at(box, ...(step.from ?? [0.5, 0.5]));
            const to = at(box, ...(step.to ?? [0.5, 0.5]));
            await page.mouse.move(from.x, from.y);
            await page.mouse.down();
            await page.mouse.move(to.x, to.y, { steps: 10 });
            await page.mouse.up();
            break;
        }
        case 'press':
            await page.keyboard.press(step.press);
            break;
        case 'eval': {
            let v;
            try {
                v = await page.evaluate(step.eval);
            } catch (e) {
                throw new StepError(`eval \`${step.eval}\` threw: ${e.message.split('\n')[0]}`);
            }
            if (step.as) {
                ctx.values[step.as] = v === undefined ? null : v;
            }
            break;
        }
        case 'screenshot': {
            const name = step.screenshot;
            if (typeof name !== 'string' || !name || name.includes('/') || name.includes('\\')) {
                throw new StepError(`screenshot needs a plain file name; got ${describe(step)}`);
            }
            const path = join(ctx.out, name);
            let box;
            if (step.selector) {
                box = await elementBox(page, step.selector, timeout);
                await page.screenshot({ path, clip: box, timeout });
            } else {
                const vp = page.viewportSize();
                box = { x: 0, y: 0, width: vp.width, height: vp.height };
                await page.screenshot({ path, timeout });
            }
            ctx.screenshots[name] = { path, selector: step.selector ?? null, box,
                deviceScaleFactor: ctx.deviceScaleFactor };
            break;
        }
        case 'sleepMs':
            await page.waitForTimeout(Number(step.sleepMs));
            break;
    }
    return kind;
}

async function main() {
    const results = { ok: false, error: null, failedStep: null, steps: [], values: {}, screenshots: {}, console: [],
        pageErrors: [], externalRequests: [], viewport: null };
    let out = null;
    const write = () => {
        if (out) {
            writeFileSync(join(out, 'results.json'), JSON.stringify(results, null, 2));
        }
    };
    const fail = (code, message) => {
        results.error = message;
        write();
        console.error(`drive.mjs: ${message}`);
        process.exitCode = code;
    };
    if (process.argv.length !== 3) {
        console.error('usage: node drive.mjs script.json');
        process.exitCode = 2;
        return;
    }
    const scriptPath = resolve(process.argv[2]);
    let script;
    try {
        script = JSON.parse(readFileSync(scriptPath, 'utf8'));
    } catch (e) {
        console.error(`drive.mjs: cannot read ${scriptPath}: ${e.message}`);
        process.exitCode = 2;
        return;
    }
    out = script.out ? (isAbsolute(script.out) ? script.out : resolve(dirname(scriptPath), script.out))
        : dirname(scriptPath);
    mkdirSync(out, { recursive: true });
    const [width, height] = script.viewport ?? [1100, 1400];
    results.viewport = [width, height];
    const defaultTimeout = Number(script.timeoutMs ?? 30000);
    if (typeof script.page !== 'string' || !Array.isArray(script.steps ?? [])) {
        return fail(2, 'the script needs "page" (a URL) and "steps" (an array)');
    }
    const executablePath = findChromium(script);
    if (!executablePath) {
        return fail(2, 'no Chromium found ("chromium" in the script, $CTCF_CHROMIUM, /usr/bin/chromium)');
    }
    let chromium;
    try {
        ({ chromium } = await import('playwright-core'));
    } catch (e) {
        return fail(2, `playwright-core is not installed beside drive.mjs (bash tests/browser/install.sh): ${e.message}`);
    }
    let browser;
    try {
        browser = await chromium.launch({ executablePath, headless: true, args: CHROMIUM_ARGS, timeout: 60000 });
    } catch (e) {
        return fail(2, `cannot launch ${executablePath}: ${e.message.split('\n')[0]}`);
    }
    try {
        const deviceScaleFactor = Number(script.deviceScaleFactor ?? 1);
        const context = await browser.newContext({ viewport: { width, height }, deviceScaleFactor });
        const page = await context.newPage();
        page.on('console', (m) => {
            const l = m.location();
            results.console.push({ type: m.type(), text: m.text(),
                location: l && l.url ? `${l.url}:${l.lineNumber}:${l.columnNumber}` : null });
        });
        page.on('pageerror', (e) => results.pageErrors.push(e.stack || String(e)));
        page.on('request', (r) => {
            const u = r.url();
            if (!/^(file|data|blob|about):/.test(u)) {
                results.externalRequests.push(u);
            }
        });
        try {
            await page.goto(script.page, { waitUntil: 'load', timeout: defaultTimeout });
        } catch (e) {
            return fail(1, `cannot open ${script.page}: ${e.message.split('\n')[0]}`);
        }
        const ctx = { out, values: results.values, screenshots: results.screenshots, deviceScaleFactor };
        const steps = script.steps ?? [];
        for (let i = 0; i < steps.length; i++) {
            const step = steps[i];
            const t0 = Date.now();
            const timeout = Number(step?.timeoutMs ?? defaultTimeout);
            try {
                const kind = await runStep(page, step ?? {}, timeout, ctx);
                results.steps.push({ index: i, kind, ms: Date.now() - t0, ok: true });
                write();
            } catch (e) {
                results.steps.push({ index: i, kind: KINDS.find((k) => step && k in step) ?? null,
                    ms: Date.now() - t0, ok: false });
                results.failedStep = i;
                const why = e instanceof StepError ? e.message : `${e.name}: ${e.message.split('\n')[0]}`;
                return fail(1, `step ${i} ${describe(step)} failed: ${why}`);
            }
        }
        results.ok = true;
        write();
    } finally {
        await browser.close().catch(() => {});
    }
}

main().catch((e) => {
    console.error(`drive.mjs: ${e.stack || e}`);
    process.exitCode = 2;
});
