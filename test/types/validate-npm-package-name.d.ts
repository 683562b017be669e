/** Types for validate-npm-package-name 6 (npm's own package name rules), used by the catalog tests. */
declare module 'validate-npm-package-name' {
  interface Result {
    validForNewPackages: boolean;
    validForOldPackages: boolean;
    warnings?: string[];
    errors?: string[];
  }
  function validate(name: string): Result;
  export default validate;
}
