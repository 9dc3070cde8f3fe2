/** The restore_command script is bundled as text (`?raw`, resolved by Vite in the build and in Vitest). */
declare module '*.sh?raw' {
  const text: string;
  export default text;
}
