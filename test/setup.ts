// Runs before every test file: libp2p 3 needs Promise.withResolvers, which Node 20 lacks.
import '../src/polyfill.js'
