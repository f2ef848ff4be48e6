// graphql-ws (graphql-transport-ws only) on the ws package, as its README sets it up.
// KEEPALIVE_MS sets the WebSocket ping interval (graphql-ws's default is 12 s): a client
// that has not answered a ping by the next one is terminated.
const { WebSocketServer } = require("ws");
const { useServer } = require("graphql-ws/use/ws");
const { schema, query, mutation, subscription, port, announce } = require("./schema");

const wss = new WebSocketServer({ host: "127.0.0.1", port, path: "/graphql" });
const keepAlive = Number(process.env.KEEPALIVE_MS || 12000);
useServer(
  {
    schema,
    roots: { query, mutation, subscription },
    onConnect: (ctx) => !(ctx.connectionParams && ctx.connectionParams.deny),
  },
  wss,
  keepAlive,
);
announce(wss);
