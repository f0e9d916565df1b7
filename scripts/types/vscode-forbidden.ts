// Type checking maps the module 'vscode' to this file in every area except src/extension and the
// extension-host tests (see tsconfig.base.json). Importing 'vscode' anywhere else therefore pulls
// this file in, and the line below fails the type check with a message that says why.
const onlySrcExtensionMayImportVscode: 'vscode' = 'this area must not import vscode; only src/extension may';
export default onlySrcExtensionMayImportVscode;
