/**
 * A registry written for the tests, on 127.0.0.1 only: Ollama's routes (manifests, HEAD and GET
 * blobs with a 307 to a second loopback host, the "CDN" on `localhost`), ranged GETs, a bearer
 * token flow, and faults on demand (a connection dropped mid-blob, a corrupt blob).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface ServedModel {
  /** `namespace/model:tag` */
  ref: string;
  manifest: Buffer;
}

export interface RegistryFaults {
  /** the CDN closes the connection after this many bytes of this digest's next GET (once) */
  dropDigest?: string;
  dropAfterBytes?: number;
  /** the CDN serves this digest with one byte changed */
  corruptDigest?: string;
  /** the registry answers 401 unless the request has the token; the token endpoint gives it unless `denyToken` */
  requireToken?: boolean;
  denyToken?: boolean;
}

export interface TestRegistry {
  /** http://127.0.0.1:<port> */
  url: string;
  faults: RegistryFaults;
  /** "<host> <method> <path> <range>" for every request, in order */
  log: string[];
  close(): Promise<void>;
}

const TOKEN = "test-token";

function listen(server: Server, host: string): Promise<number> {
  return new Promise((resolve) => server.listen(0, host, () => resolve((server.address() as AddressInfo).port)));
}

export async function startTestRegistry(models: ServedModel[], blobs: Map<string, Buffer>): Promise<TestRegistry> {
  const faults: RegistryFaults = {};
  const log: string[] = [];
  const record = (who: string, req: IncomingMessage) => log.push(`${who} ${req.method} ${req.url} ${req.headers.range ?? ""}`.trim());

  const cdn = createServer((req, res) => {
    record("cdn", req);
    const digest = decodeURIComponent(req.url?.replace(/^\/blobs\//, "") ?? "");
    let data = blobs.get(digest);
    if (!data) return void res.writeHead(404).end();
    if (faults.corruptDigest === digest) {
      data = Buffer.from(data);
      data[data.length >> 1] ^= 0xff;
    }
    let start = 0;
    let end = data.length - 1;
    const m = /^bytes=(\d+)-(\d+)?$/.exec(req.headers.range ?? "");
    if (m) {
      start = Number(m[1]);
      end = m[2] === undefined ? end : Math.min(end, Number(m[2]));
    }
    const body = data.subarray(start, end + 1);
    res.writeHead(m ? 206 : 200, {
      "Content-Length": body.length,
      ...(m ? { "Content-Range": `bytes ${start}-${end}/${data.length}` } : {}),
    });
    if (faults.dropDigest === digest && faults.dropAfterBytes !== undefined) {
      const cut = faults.dropAfterBytes;
      faults.dropDigest = undefined;
      res.write(body.subarray(0, cut), () => res.socket?.destroy());
      return;
    }
    res.end(req.method === "HEAD" ? undefined : body);
  });
  const cdnPort = await listen(cdn, "127.0.0.1");

  const registry = createServer((req: IncomingMessage, res: ServerResponse) => {
    record("registry", req);
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    if (url.pathname === "/token") {
      if (faults.denyToken) return void res.writeHead(401).end();
      return void res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify({ token: TOKEN }));
    }
    if (faults.requireToken && req.headers.authorization !== `Bearer ${TOKEN}`) {
      const port = (registry.address() as AddressInfo).port;
      return void res
        .writeHead(401, { "WWW-Authenticate": `Bearer realm="http://127.0.0.1:${port}/token",service="test",scope="repository:x:pull"` })
        .end('{"errors":[{"code":"UNAUTHORIZED"}]}');
    }
    const manifest = /^\/v2\/([^/]+)\/([^/]+)\/manifests\/([^/]+)$/.exec(url.pathname);
    if (manifest) {
      const model = models.find((m) => m.ref === `${manifest[1]}/${manifest[2]}:${manifest[3]}`);
      if (!model) return void res.writeHead(404).end('{"errors":[{"code":"MANIFEST_UNKNOWN"}]}');
      return void res.writeHead(200, { "Content-Type": "application/vnd.docker.distribution.manifest.v2+json" }).end(model.manifest);
    }
    const blob = /^\/v2\/[^/]+\/[^/]+\/blobs\/(sha256:[0-9a-f]{64})$/.exec(url.pathname);
    if (blob && blobs.has(blob[1])) {
      if (req.method === "HEAD") return void res.writeHead(200, { "Content-Length": blobs.get(blob[1])!.length }).end();
      // a redirect to another host name, as the public registry sends its CDN URL
      return void res.writeHead(307, { Location: `http://localhost:${cdnPort}/blobs/${blob[1]}` }).end();
    }
    res.writeHead(404).end();
  });
  const port = await listen(registry, "127.0.0.1");

  return {
    url: `http://127.0.0.1:${port}`,
    faults,
    log,
    close: async () => {
      // keep-alive sockets from fetch would hold close() open
      await Promise.all([registry, cdn].map((s) => new Promise((r) => (s.close(r), s.closeAllConnections()))));
    },
  };
}
