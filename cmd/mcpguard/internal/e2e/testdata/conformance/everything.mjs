// Starts the MCP SDK's "everything" server (@modelcontextprotocol/server-everything) in its
// streamable HTTP mode, as `mcp-server-everything streamableHttp` does, on 127.0.0.1:$PORT
// only: the server itself listens on every interface. EVERYTHING_ENTRY is the absolute
// path of its dist/transports/streamableHttp.js.
import net from "node:net";

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === "number" || typeof args[0] === "string") {
    args.splice(1, 0, "127.0.0.1");
  }
  return listen.apply(this, args);
};
await import(process.env.EVERYTHING_ENTRY);
