/** Built-in runbooks are bundled as text (`?raw`, resolved by Vite in the build and in Vitest). */
declare module '*.yaml?raw' {
  const text: string;
  export default text;
}
