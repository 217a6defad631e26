// Runs before `npm test` / `npm start` on whatever `node` npm found. It is plain JavaScript on
// purpose: on the system's Node 20 a .ts file would not even parse, and the point is one clear line.
const major = Number(process.versions.node.split('.')[0]);
if (major !== 24) {
  console.error(
    `ikukantai needs Node 24, this is ${process.versions.node}: run through npm scripts after \`npm ci\` ` +
      '(the pinned `node` devDependency provides Node 24), not with --ignore-scripts or a bare node_modules/.bin tool',
  );
  process.exit(2);
}
