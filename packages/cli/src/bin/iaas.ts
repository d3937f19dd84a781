console.log("iaas");
