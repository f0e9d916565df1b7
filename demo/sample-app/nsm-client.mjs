// An application attached to an emulated enclave: asks the enclave NSM for PCR0 over NITRO_NSM_SOCKET
// (each message: a 4-byte big-endian length, then the CBOR). From the demo folder:
//   nitro-dev run-enclave --eif-path images/sample-app.eif --memory 64 --cpu-count 2 \
//     --app "node sample-app/nsm-client.mjs" --attach-console
// (it exits at once, and the enclave with it: --attach-console shows its output as it comes).
import net from 'node:net';
const request = Buffer.from('a16b4465736372696265504352a165696e64657800', 'hex'); // {"DescribePCR":{"index":0}}
const socket = net.connect(process.env.NITRO_NSM_SOCKET, () => {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(request.length);
  socket.write(Buffer.concat([length, request]));
});
let reply = Buffer.alloc(0);
socket.on('data', (chunk) => {
  reply = Buffer.concat([reply, chunk]);
  if (reply.length >= 4 && reply.length >= 4 + reply.readUInt32BE(0)) {
    console.log(`enclave ${process.env.NITRO_ENCLAVE_ID}: NSM replied ${reply.subarray(4).toString('hex')}`);
    socket.end();
  }
});
