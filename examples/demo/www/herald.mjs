// herald.mjs: herald.js as an ES module.  import herald, { subscribe, publish } from '/herald.mjs';
// herald.js is a classic script that sets globalThis.herald; importing it for
// that side effect lets one file serve both <script> and `import`.
import './herald.js';

const herald = globalThis.herald;
export default herald;
export const { subscribe, publish, backoff } = herald;
