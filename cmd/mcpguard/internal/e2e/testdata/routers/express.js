// The Express upstream of mcpguard's differential path test. It routes as an Express MCP
// server does (app.use mounts a subtree) and answers every request with the name of the
// handler that served it: "protected" for the MCP endpoint, "public" for /status, "none"
// otherwise. Usage: node express.js PORT (prints "listening" once it accepts).
const express = require('express');

const app = express();
const answer = (name) => (req, res) => {
  res.set('X-Handler', name);
  res.type('text/plain').send(`${name} ${req.originalUrl}\n`);
};
app.get('/status', answer('public'));
app.use('/mcp', answer('protected'));
app.use(answer('none'));

const server = app.listen(Number(process.argv[2]), '127.0.0.1', () => {
  console.log('listening');
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
