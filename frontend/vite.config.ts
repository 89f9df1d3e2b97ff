import { reactRouter } from "@react-router/dev/vite";
import { type Plugin, defineConfig } from "vite";

/**
 * @react-router/dev 7 starts its route compiler with `envFile: false`, which Vite 8 still honours but warns about
 * on every start: give it the setting that replaced it, `envDir: false` (no .env files either way). The same change
 * upstream (remix-run/react-router#15230) is only in React Router 8.
 */
function envDirInsteadOfEnvFile(): Plugin {
  return {
    name: "imgassets:env-dir-instead-of-env-file",
    config(config) {
      if (config.envFile === false) {
        delete config.envFile;
        config.envDir = false;
      }
    },
  };
}

export default defineConfig({
  plugins: [reactRouter(), envDirInsteadOfEnvFile()],
});
